/* gcrun.signal: SIGINT and SIGTERM become a flag that the HTTP driver and
 * the pipeline poll, so a run stops at a safe point, checks its flows in
 * and writes its report. A third signal leaves at once. */
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

static int sig_install(lua_State *L)
{
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);   /* a closed socket is an error return, not a death */
  (void)L;
  return 0;
}

static const char *signame(int sig)
{
  return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "signal";
}

/* interrupted() -> "SIGINT" | "SIGTERM" | nil, count */
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
  on_signal(strcmp(name, "SIGTERM") == 0 ? SIGTERM : SIGINT);
  return 0;
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
