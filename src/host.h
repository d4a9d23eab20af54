/* Shared declarations of the gcrun host: the protected-call discipline,
 * the native module table and small helpers every C file needs. */
#ifndef GCRUN_HOST_H
#define GCRUN_HOST_H

#include <lua.h>
#include <lauxlib.h>

/* Call the function below nargs arguments with a traceback message handler.
 * The only way C code calls Lua outside a coroutine resume. */
int gc_docall(lua_State *L, int narg, int nres);

/* Message handler: turns any error value into a string with a traceback,
 * leaving tables that carry a message alone (structured errors). */
int gc_msghandler(lua_State *L);

/* Open the standard libraries, register the native modules in
 * package.preload and point package.path at the data directory.
 * Used for the main state and for every server thread's state. */
void gc_openstate(lua_State *L, const char *datadir);

/* The directory holding lua/ and scripts/ for this binary, and the one
 * holding its loadable native modules (gcrun_http.so, gcrun_server.so). */
const char *gc_datadir(void);
const char *gc_libdir(void);

/* Monotonic clock in seconds. */
double gc_now(void);

/* Native module entry points (http, oauth and server are in loadable
 * objects; the others are linked in). */
int luaopen_gcrun_http_core(lua_State *L);
int luaopen_gcrun_oauth(lua_State *L);
int luaopen_gcrun_retry(lua_State *L);
int luaopen_gcrun_server(lua_State *L);
int luaopen_gcrun_signal(lua_State *L);
int luaopen_gcrun_sys(lua_State *L);
int luaopen_gcrun_jsonscan(lua_State *L);

/* The last stopping signal caught (SIGINT, SIGTERM, SIGHUP, SIGQUIT), or 0;
 * the HTTP driver polls it. */
int gc_interrupted(void);

/* Register the metatable NAME of a userdata class: methods reachable
 * through __index, and release as both __gc and __close, so collection
 * and `local x <close>` free the same way. Leaves the stack as it was. */
void gc_newclass(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction release);

/* The one backoff: the wait before attempt `attempt` + 1, a fraction of
 * the capped exponential base * 2^(attempt-1) (full jitter: fraction is
 * uniform in [0, 1); 1 gives the ceiling itself). retry.c. */
double gc_backoff(int attempt, double base, double cap, double fraction);

/* Build a structured error table {code=, message=, ...} with the module's
 * error metatable and leave it on the stack. */
void gc_pusherror(lua_State *L, const char *code, const char *fmt, ...);

#endif
