/* gcrun.signal: SIGINT, SIGTERM, SIGHUP (the ssh session dropped) and
 * SIGQUIT become a flag that the HTTP driver and the pipeline poll, so a
 * run stops at a safe point, checks its flows in and writes its report.
 * A third signal leaves at once. */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

static volatile sig_atomic_t caught;   /* number of the last signal, or 0 */
static volatile sig_atomic_t count;

static void on_signal(int sig)
{
  caught = sig;
  if (++count >= 3)
    _exit(128 + sig);
}

int gc_interrupted(void)
{
  return caught;
}

/* The signals that stop a run the same way. */
static const struct { int sig; const char *name; } stops[] = {
  {SIGINT, "SIGINT"}, {SIGTERM, "SIGTERM"}, {SIGHUP, "SIGHUP"}, {SIGQUIT, "SIGQUIT"},
};

static int sig_install(lua_State *L)
{
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++) {
    struct sigaction old;
    /* under nohup a hangup is meant to pass unnoticed: keep it ignored */
    if (stops[i].sig == SIGHUP && sigaction(SIGHUP, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
      continue;
    sigaction(stops[i].sig, &sa, NULL);
  }
  signal(SIGPIPE, SIG_IGN);   /* a closed socket is an error return, not a death */
  (void)L;
  return 0;
}

static const char *signame(int sig)
{
  for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++)
    if (stops[i].sig == sig)
      return stops[i].name;
  return "signal";
}

/* interrupted() -> "SIGINT" | "SIGTERM" | "SIGHUP" | "SIGQUIT" | nil, count */
static int sig_interrupted(lua_State *L)
{
  if (!caught)
    return 0;
  lua_pushstring(L, signame(caught));
  lua_pushinteger(L, count);
  return 2;
}

/* trigger(name): behave as if the signal arrived (used by tests). */
static int sig_trigger(lua_State *L)
{
  const char *name = luaL_optstring(L, 1, "SIGINT");
  for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++) {
    if (strcmp(name, stops[i].name) == 0) {
      on_signal(stops[i].sig);
      return 0;
    }
  }
  return luaL_argerror(L, 1, "not a signal that stops a run");
}

static int sig_clear(lua_State *L)
{
  (void)L;
  caught = 0;
  count = 0;
  return 0;
}

/* exit_status() -> 128 + signal number, the shell's convention. */
static int sig_exit_status(lua_State *L)
{
  lua_pushinteger(L, 128 + (caught ? caught : SIGINT));
  return 1;
}

int luaopen_gcrun_signal(lua_State *L)
{
  static const luaL_Reg funcs[] = {
    {"install", sig_install},
    {"interrupted", sig_interrupted},
    {"trigger", sig_trigger},
    {"clear", sig_clear},
    {"exit_status", sig_exit_status},
    {NULL, NULL}
  };
  luaL_newlib(L, funcs);
  return 1;
}
