/* Creating a gcrun Lua state: libraries, native modules, module path, the
 * shared error type, and where the data directory is. */
#include "config.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lualib.h>
#include <lua-cjson.h>

#include "host.h"

int luaopen_cjson_safe(lua_State *L);   /* exported by lua-cjson, not declared */

static int has_library(const char *dir)
{
  char path[PATH_MAX];
  int len = snprintf(path, sizeof path, "%s/lua/gcrun/host.lua", dir);
  return len > 0 && (size_t)len < sizeof path && access(path, R_OK) == 0;
}

/* Where lua/, scripts/ and examples/ are. The uninstalled ./gcrun at the
 * top of the build tree uses the source tree it was built from, so it is
 * never shadowed by an older installed copy. An installed gcrun looks
 * beside itself first (BINDIR/../share/gcrun), so an installation can be
 * moved or staged with DESTDIR and still run, then at PKGDATADIR. */
const char *gc_datadir(void)
{
  static char exedir[PATH_MAX], builddir[PATH_MAX], beside[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exedir, sizeof exedir - 1);
  if (n <= 0)
    return PKGDATADIR;
  exedir[n] = '\0';
  char *slash = strrchr(exedir, '/');
  if (slash == NULL)
    return PKGDATADIR;
  *slash = '\0';
  if (realpath(GCRUN_BUILDDIR, builddir) && strcmp(builddir, exedir) == 0)
    return GCRUN_SRCDIR;
  int len = snprintf(beside, sizeof beside, "%s/../share/" PACKAGE, exedir);
  if (len > 0 && (size_t)len < sizeof beside && has_library(beside) && realpath(beside, builddir))
    return builddir;
  return PKGDATADIR;
}

double gc_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int error_tostring(lua_State *L)
{
  lua_getfield(L, 1, "message");
  if (!lua_isstring(L, -1)) {
    lua_pop(L, 1);
    lua_getfield(L, 1, "code");
  }
  if (lua_isnil(L, -1))
    lua_pushliteral(L, "error");
  luaL_tolstring(L, -1, NULL);
  return 1;
}

/* require "gcrun.errors.class": the one error metatable, registered here
 * so that errors raised in C and those made in Lua (lua/gcrun/errors.lua)
 * are of one class. */
static int open_error_class(lua_State *L)
{
  luaL_getmetatable(L, "gcrun.Error");
  return 1;
}

void gc_newclass(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction release)
{
  if (luaL_newmetatable(L, name)) {
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
    luaL_setfuncs(L, methods, 0);
    lua_pushcfunction(L, release);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, release);
    lua_setfield(L, -2, "__close");
  }
  lua_pop(L, 1);
}

void gc_pusherror(lua_State *L, const char *code, const char *fmt, ...)
{
  va_list ap;
  lua_createtable(L, 0, 3);
  lua_pushstring(L, code);
  lua_setfield(L, -2, "code");
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_setfield(L, -2, "message");
  luaL_setmetatable(L, "gcrun.Error");
}

static void preload(lua_State *L, const char *name, lua_CFunction open)
{
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, open);
  lua_setfield(L, -2, name);
  lua_pop(L, 1);
}

/* Where the loadable native modules are: beside the data directory's
 * logic, the build tree's .libs for the uninstalled ./gcrun, else
 * BINDIR/../lib/gcrun, else PKGLIBDIR. */
const char *gc_libdir(void)
{
  static char dir[PATH_MAX];
  const char *data = gc_datadir();
  if (strcmp(data, GCRUN_SRCDIR) == 0 && strcmp(data, PKGDATADIR) != 0) {
    snprintf(dir, sizeof dir, "%s/.libs", GCRUN_BUILDDIR);
    return dir;
  }
  size_t n = strlen(data);
  const char *tail = "/share/" PACKAGE;
  if (strcmp(data, PKGDATADIR) != 0 && n > strlen(tail) && strcmp(data + n - strlen(tail), tail) == 0) {
    snprintf(dir, sizeof dir, "%.*s/lib/" PACKAGE, (int)(n - strlen(tail)), data);
    return dir;
  }
  return PKGLIBDIR;
}

/* The preload entry of a module that lives in a loadable object: the
 * network modules are loaded on first use, so a command that never talks
 * to a server never pays for linking libcurl and its thirty libraries. */
static int load_module(lua_State *L)
{
  const char *file = lua_tostring(L, lua_upvalueindex(1));
  const char *symbol = lua_tostring(L, lua_upvalueindex(2));
  const char *path = lua_pushfstring(L, "%s/%s", gc_libdir(), file);
  void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (handle == NULL)
    return luaL_error(L, "cannot load the native module %s: %s", file, dlerror());
  lua_CFunction open = (lua_CFunction)(uintptr_t)dlsym(handle, symbol);
  if (open == NULL)
    return luaL_error(L, "native module %s has no %s", path, symbol);
  lua_settop(L, 1);
  return open(L);
}

static void preload_from(lua_State *L, const char *name, const char *file, const char *symbol)
{
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushstring(L, file);
  lua_pushstring(L, symbol);
  lua_pushcclosure(L, load_module, 2);
  lua_setfield(L, -2, name);
  lua_pop(L, 1);
}

/* package.path: the data directory first, then the system's Lua paths
 * (busted and its helpers live there) without the current directory, so a
 * stray ./gcrun/x.lua never replaces a bundled module. */
static void set_path(lua_State *L, const char *datadir)
{
  luaL_Buffer b;
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  const char *sys = lua_tostring(L, -1);
  luaL_buffinit(L, &b);
  luaL_addstring(&b, datadir);
  luaL_addstring(&b, "/lua/?.lua;");
  luaL_addstring(&b, datadir);
  luaL_addstring(&b, "/lua/?/init.lua");
  while (sys && *sys) {
    const char *end = strchr(sys, ';');
    size_t len = end ? (size_t)(end - sys) : strlen(sys);
    if (len > 0 && strncmp(sys, "./", 2) != 0) {
      luaL_addchar(&b, ';');
      luaL_addlstring(&b, sys, len);
    }
    sys += len + (end ? 1 : 0);
  }
  luaL_pushresult(&b);
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);
}

void gc_openstate(lua_State *L, const char *datadir)
{
  luaL_openlibs(L);
  if (luaL_newmetatable(L, "gcrun.Error")) {
    lua_pushcfunction(L, error_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  lua_pushstring(L, datadir);
  lua_setfield(L, LUA_REGISTRYINDEX, "gcrun.datadir");

  preload(L, "gcrun.errors.class", open_error_class);
  preload(L, "cjson", luaopen_cjson);
  preload(L, "cjson.safe", luaopen_cjson_safe);
  preload_from(L, "gcrun.http.core", "gcrun_http.so", "luaopen_gcrun_http_core");
  preload_from(L, "gcrun.oauth", "gcrun_http.so", "luaopen_gcrun_oauth");
  preload_from(L, "gcrun.server", "gcrun_server.so", "luaopen_gcrun_server");
  preload(L, "gcrun.retry", luaopen_gcrun_retry);
  preload(L, "gcrun.signal", luaopen_gcrun_signal);
  preload(L, "gcrun.sys", luaopen_gcrun_sys);
  preload(L, "gcrun.jsonscan", luaopen_gcrun_jsonscan);
  set_path(L, datadir);
}
