/* gcrun: the host. After lua.c: main creates the state and runs pmain in
 * protected mode; everything else, including finding and running scripts,
 * happens inside pmain and the Lua engine it loads (lua/gcrun/host.lua). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "host.h"

static const char progname[] = "gcrun";

/* Print `gcrun: message` on stderr. Structured errors carry their own
 * message; the engine prints those itself, so this only sees the rare error
 * that escapes it (a broken installation, out of memory). */
static void report(lua_State *L, int status)
{
  if (status != LUA_OK) {
    const char *msg = luaL_tolstring(L, -1, NULL);
    fprintf(stderr, "%s: %s\n", progname, msg);
    fflush(stderr);
    lua_pop(L, 2);
  }
}

int gc_msghandler(lua_State *L)
{
  if (lua_type(L, 1) == LUA_TTABLE)   /* structured error: keep it whole */
    return 1;
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

int gc_docall(lua_State *L, int narg, int nres)
{
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, gc_msghandler);
  lua_insert(L, base);
  int status = lua_pcall(L, narg, nres, base);
  lua_remove(L, base);
  return status;
}

/* The program, protected: load the engine from the data directory and hand
 * it the arguments. Its return value is the exit status. */
static int pmain(lua_State *L)
{
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  const char *datadir = gc_datadir();

  gc_openstate(L, datadir);

  lua_pushfstring(L, "%s/lua/gcrun/host.lua", datadir);
  if (luaL_loadfile(L, lua_tostring(L, -1)) != LUA_OK)
    return luaL_error(L, "cannot load its Lua library from %s (%s); reinstall gcrun",
                      datadir, lua_tostring(L, -1));
  lua_remove(L, -2);

  lua_createtable(L, argc, 0);          /* argv[1..] as a list */
  for (int i = 1; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  lua_createtable(L, 0, 3);             /* facts only C knows */
  lua_pushstring(L, PACKAGE_VERSION);
  lua_setfield(L, -2, "version");
  lua_pushstring(L, datadir);
  lua_setfield(L, -2, "datadir");
  lua_pushstring(L, argv[0]);
  lua_setfield(L, -2, "argv0");
  lua_call(L, 2, 1);                    /* host(args, info) -> status */
  return 1;
}

int main(int argc, char **argv)
{
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    fprintf(stderr, "%s: cannot create Lua state: not enough memory\n", progname);
    return EXIT_FAILURE;
  }
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int status = gc_docall(L, 2, 1);
  int code = EXIT_FAILURE;
  if (status == LUA_OK)
    code = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : EXIT_SUCCESS;
  else
    report(L, status);
  lua_close(L);
  return code;
}
