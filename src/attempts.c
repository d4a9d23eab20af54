/* The attempts of a transfer, as the run's timeline needs them: when each
 * attempt ran, what came back, the rate budget the answer advertised and
 * the wait that followed. Plain data kept with the transfer (so bounded by
 * its attempts and freed with it), filled in by the driver and handed to
 * Lua with the transfer's result. Never calls Lua from a libcurl callback. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "http.h"

static Attempt *grow(Transfer *t)
{
  if (t->nlog == t->caplog) {
    int cap = t->caplog ? 2 * t->caplog : 2;
    Attempt *a = realloc(t->log, (size_t)cap * sizeof *a);
    if (a == NULL)
      return NULL;           /* the record is lost; Lua pads from t->attempts */
    t->log = a;
    t->caplog = cap;
  }
  return &t->log[t->nlog++];
}

void attempt_begin(Transfer *t, double now)
{
  if (t->is_token)
    return;
  Attempt *a = grow(t);
  double held = t->held_since > 0 ? now - t->held_since : 0;
  t->held_since = 0;
  if (a == NULL)
    return;
  memset(a, 0, sizeof *a);
  a->start = now;
  a->held = held;
  a->retry_after = -1;
  a->rl_allowed = a->rl_count = a->rl_reset = -1;
}

/* libcurl resent the attempt in flight by itself: the one before it got
 * no answer. */
void attempt_resent(Transfer *t)
{
  if (t->is_token || t->nlog == 0)
    return;
  Attempt *a = grow(t);
  if (a == NULL)
    return;
  Attempt *cur = a - 1;
  *a = *cur;
  cur->end = cur->start;
  cur->status = 0;
  a->held = 0;
}

static long header_long(Transfer *t, const char *name)
{
  struct curl_header *h;
  long v;
  if (curl_easy_header(t->easy, name, 0, CURLH_HEADER, -1, &h) == CURLHE_OK && parse_long_header(h->value, &v))
    return v;
  return -1;
}

void attempt_end(Transfer *t, CURLcode rc, double now)
{
  if (t->is_token || t->nlog == 0)
    return;
  Attempt *a = &t->log[t->nlog - 1];
  a->end = now;
  a->status = 0;
  if (rc != CURLE_OK)
    return;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &a->status);
  a->rl_allowed = header_long(t, "inin-ratelimit-allowed");
  a->rl_count = header_long(t, "inin-ratelimit-count");
  a->rl_reset = header_long(t, "inin-ratelimit-reset");
  struct curl_header *h;
  if (curl_easy_header(t->easy, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    a->retry_after = parse_retry_after(h->value, (double)tv.tv_sec + (double)tv.tv_usec / 1e6);
  }
}

void attempt_wait(Transfer *t, double delay)
{
  if (!t->is_token && t->nlog > 0)
    t->log[t->nlog - 1].wait = delay;
}

static void set_number(lua_State *L, const char *k, double v)
{
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

static void set_known(lua_State *L, const char *k, long v)
{
  if (v >= 0) {
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
  }
}

/* Push {{start=, finish=, status=, held=, wait=, retry_after=,
 * ratelimit_allowed=, ratelimit_count=, ratelimit_reset=}, ...}: times on
 * the monotonic clock (sys.clock), absent fields unknown; finish 0 when
 * the attempt was stopped without an answer. */
void attempts_push(lua_State *L, const Transfer *t)
{
  lua_createtable(L, t->nlog, 0);
  for (int i = 0; i < t->nlog; i++) {
    const Attempt *a = &t->log[i];
    lua_createtable(L, 0, 9);
    set_number(L, "start", a->start);
    set_number(L, "finish", a->end);
    lua_pushinteger(L, a->status);
    lua_setfield(L, -2, "status");
    if (a->held > 0) set_number(L, "held", a->held);
    if (a->wait > 0) set_number(L, "wait", a->wait);
    if (a->retry_after >= 0) set_number(L, "retry_after", a->retry_after);
    set_known(L, "ratelimit_allowed", a->rl_allowed);
    set_known(L, "ratelimit_count", a->rl_count);
    set_known(L, "ratelimit_reset", a->rl_reset);
    lua_rawseti(L, -2, i + 1);
  }
}
