/* gcrun.retry: the optimistic-concurrency loop, and the one backoff every
 * retry in gcrun uses. Fetch the resource, let Lua modify it, submit; on a
 * conflict (what the caller's `conflict` predicate says is one, by default
 * 409, 429, 502, 503, 504; or a submit whose outcome is unknown) fetch
 * again, reapply and resubmit after a backoff. The caller also passes how
 * to sleep: this module knows no service and requires no Lua module.
 * A modify that finds nothing left to change ends
 * the loop: the edit is already there, so it is never applied twice.
 *
 * fetch, modify and submit make HTTP requests, which yield inside tasks;
 * the loop is therefore written with continuations (lua_callk/pcallk) and
 * keeps its state in a table, not in C locals. */
#include "config.h"

#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host.h"

enum { PH_FETCH = 1, PH_MODIFY, PH_SUBMIT, PH_SLEEP };

/* Stack: 1 = options, 2 = loop state. */
#define OPTS 1
#define STATE 2

static lua_Integer get_int(lua_State *L, int t, const char *k, lua_Integer def)
{
  lua_getfield(L, t, k);
  lua_Integer v = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : def;
  lua_pop(L, 1);
  return v;
}

static double get_num(lua_State *L, int t, const char *k, double def)
{
  lua_getfield(L, t, k);
  double v = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : def;
  lua_pop(L, 1);
  return v;
}

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
  lua_pushinteger(L, v);
  lua_setfield(L, STATE, k);
}

static int step(lua_State *L, int status, lua_KContext ctx);

static int call_fetch(lua_State *L)
{
  set_int(L, "attempts", get_int(L, STATE, "attempts", 0) + 1);
  lua_getfield(L, OPTS, "fetch");
  lua_callk(L, 0, 1, PH_FETCH, step);
  return step(L, LUA_OK, PH_FETCH);
}

/* The final result: {value=, changed=, attempts=, conflicts=, response=, unknown=} */
static int finish(lua_State *L, int changed)
{
  lua_pushboolean(L, changed);
  lua_setfield(L, STATE, "changed");
  lua_settop(L, STATE);
  return 1;
}

double gc_backoff(int attempt, double base, double cap, double fraction)
{
  if (attempt < 1)
    attempt = 1;
  double ceiling = base * ldexp(1.0, attempt > 60 ? 60 : attempt - 1);
  if (ceiling > cap)
    ceiling = cap;
  return ceiling * fraction;
}

/* xorshift64*: jitter needs to be spread out, not unpredictable */
static double rand01(void)
{
  static unsigned long long x;
  if (x == 0)
    x = ((unsigned long long)time(NULL) << 20) ^ (unsigned long long)getpid() ^ 0x9E3779B97F4A7C15ULL;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  return (double)((x * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* Go round again? The caller's predicate decides (a service's way of
 * saying "version mismatch" is the dialect's business); without one, a
 * 409, or an answer saying the submit was not processed at all (429, 502,
 * 503, 504), which a refetch shows and a resubmit repairs. */
static int is_conflict(lua_State *L, int resp, lua_Integer status)
{
  lua_getfield(L, OPTS, "conflict");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return status == 409 || status == 429 || status == 502 || status == 503 || status == 504;
  }
  lua_pushvalue(L, resp);
  lua_call(L, 1, 1);            /* a predicate: it must not yield */
  int v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* Conflict: back off and go round again, or give up with the last answer. */
static int conflict(lua_State *L)
{
  lua_Integer attempts = get_int(L, STATE, "attempts", 1);
  lua_Integer max = get_int(L, OPTS, "attempts", 5);
  set_int(L, "conflicts", get_int(L, STATE, "conflicts", 0) + 1);
  if (attempts >= max) {
    gc_pusherror(L, "conflict", "still conflicting after %d attempts", (int)attempts);
    lua_getfield(L, STATE, "response");
    lua_setfield(L, -2, "response");
    lua_pushinteger(L, attempts);
    lua_setfield(L, -2, "attempts");
    return lua_error(L);
  }
  double delay = gc_backoff((int)attempts, get_num(L, OPTS, "backoff_base", 0.2),
                            get_num(L, OPTS, "backoff_cap", 5), rand01());
  lua_getfield(L, OPTS, "sleep");
  lua_pushnumber(L, delay);
  lua_callk(L, 1, 0, PH_SLEEP, step);
  return step(L, LUA_OK, PH_SLEEP);
}

static int step(lua_State *L, int status, lua_KContext ctx)
{
  switch ((int)ctx) {
  case PH_FETCH:
    lua_setfield(L, STATE, "value");
    lua_getfield(L, OPTS, "modify");
    lua_getfield(L, STATE, "value");
    lua_callk(L, 1, 1, PH_MODIFY, step);
    return step(L, LUA_OK, PH_MODIFY);

  case PH_MODIFY: {
    int changed = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (!changed) {
      /* nothing left to change: on the first pass nothing was needed; after
       * an unknown outcome it means our earlier submit landed */
      lua_getfield(L, STATE, "unknown");
      int landed = lua_toboolean(L, -1);
      lua_pop(L, 1);
      return finish(L, landed);
    }
    lua_getfield(L, OPTS, "submit");
    lua_getfield(L, STATE, "value");
    int st = lua_pcallk(L, 1, 1, 0, PH_SUBMIT, step);
    return step(L, st, PH_SUBMIT);
  }

  case PH_SUBMIT:
    if (status != LUA_OK && status != LUA_YIELD) {
      if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "code");
        int unknown = lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), "unknown_outcome") == 0;
        lua_pop(L, 1);
        if (unknown) {
          lua_pop(L, 1);
          lua_pushboolean(L, 1);
          lua_setfield(L, STATE, "unknown");
          return conflict(L);
        }
      }
      return lua_error(L);                  /* anything else is the caller's */
    }
    {
      int resp = lua_gettop(L);
      if (!lua_istable(L, resp))
        return luaL_error(L, "retry.on_conflict: submit must return a response");
      lua_getfield(L, resp, "status");
      lua_Integer code = lua_tointeger(L, -1);
      lua_pop(L, 1);
      lua_pushvalue(L, resp);
      lua_setfield(L, STATE, "response");
      if (code >= 200 && code < 300) {
        lua_pop(L, 1);
        return finish(L, 1);
      }
      if (is_conflict(L, resp, code)) {
        lua_pop(L, 1);
        return conflict(L);
      }
      gc_pusherror(L, "http", "the submit was refused with HTTP %d", (int)code);
      lua_pushvalue(L, resp);
      lua_setfield(L, -2, "response");
      lua_pushinteger(L, code);
      lua_setfield(L, -2, "status");
      return lua_error(L);
    }

  case PH_SLEEP:
    return call_fetch(L);
  }
  return luaL_error(L, "retry.on_conflict: bad state");
}

/* on_conflict{fetch=, modify=, submit=, sleep=, conflict=, attempts=5,
 *             backoff_base=0.2, backoff_cap=5} -> {value=, changed=,
 *             attempts=, conflicts=, response=, unknown=}
 * sleep(seconds) waits (gcrun.http.sleep lets other tasks run meanwhile);
 * conflict(response) -> true to go round again. */
static int retry_on_conflict(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  static const char *const fns[] = {"fetch", "modify", "submit", "sleep"};
  for (int i = 0; i < 4; i++) {
    lua_getfield(L, 1, fns[i]);
    if (!lua_isfunction(L, -1))
      return luaL_error(L, "retry.on_conflict needs a %s function", fns[i]);
    lua_pop(L, 1);
  }
  lua_getfield(L, 1, "conflict");
  if (!lua_isnil(L, -1) && !lua_isfunction(L, -1))
    return luaL_error(L, "retry.on_conflict: conflict must be a function");
  lua_pop(L, 1);
  lua_createtable(L, 0, 6);                 /* STATE */
  set_int(L, "attempts", 0);
  set_int(L, "conflicts", 0);
  lua_pushboolean(L, 0);
  lua_setfield(L, STATE, "unknown");
  return call_fetch(L);
}

/* backoff(attempt, base, cap [, fraction]) -> seconds to wait before the
 * next attempt; fraction defaults to a random one (full jitter), 1 gives
 * the plain capped exponential. */
static int retry_backoff(lua_State *L)
{
  lua_Integer attempt = luaL_checkinteger(L, 1);
  double base = luaL_checknumber(L, 2), cap = luaL_checknumber(L, 3);
  double fraction = lua_isnoneornil(L, 4) ? rand01() : luaL_checknumber(L, 4);
  if (!(base >= 0) || !(cap >= 0) || isinf(base) || isinf(cap) || !(fraction >= 0 && fraction <= 1))
    return luaL_error(L, "backoff: base and cap must be non-negative numbers, fraction in [0, 1]");
  lua_pushnumber(L, gc_backoff(attempt > 1000 ? 1000 : (int)attempt, base, cap, fraction));
  return 1;
}

int luaopen_gcrun_retry(lua_State *L)
{
  static const luaL_Reg funcs[] = {
    {"on_conflict", retry_on_conflict},
    {"backoff", retry_backoff},
    {NULL, NULL}
  };
  luaL_newlib(L, funcs);
  return 1;
}
