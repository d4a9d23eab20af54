/* gcrun.http.core: the Lua face of the HTTP driver. Clients and transfers
 * are userdata; `wait` runs the driver and hands back finished transfers.
 * The coroutine scheduler that lets sequential Lua code run many requests
 * at once is lua/gcrun/http.lua, on top of this. */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "http.h"

#define DRIVER_MT "gcrun.http.Driver"
#define CLIENT_MT "gcrun.http.Client"
#define TRANSFER_MT "gcrun.http.Transfer"
#define BOXES "gcrun.http.boxes"        /* registry: transfer address -> its box */

typedef struct { Driver *d; } DriverBox;
typedef struct { Client *c; } ClientBox;
typedef struct { Transfer *t; } TransferBox;

static Driver *upvalue_driver(lua_State *L)
{
  DriverBox *b = lua_touserdata(L, lua_upvalueindex(1));
  return b->d;
}

static Client *check_client(lua_State *L, int i)
{
  ClientBox *b = luaL_checkudata(L, i, CLIENT_MT);
  if (b->c == NULL)
    luaL_error(L, "the HTTP client is closed");
  return b->c;
}

static Transfer *check_transfer(lua_State *L, int i)
{
  TransferBox *b = luaL_checkudata(L, i, TRANSFER_MT);
  if (b->t == NULL)
    luaL_error(L, "the transfer was cancelled");
  return b->t;
}

static double opt_number(lua_State *L, int t, const char *k, double def)
{
  lua_getfield(L, t, k);
  double v = luaL_optnumber(L, -1, def);
  lua_pop(L, 1);
  if (!(v >= 0) || isinf(v))
    luaL_error(L, "%s must be a non-negative number", k);
  return v;
}

static struct curl_slist *header_list(lua_State *L, int t, struct curl_slist *list)
{
  if (lua_isnoneornil(L, t))
    return list;
  luaL_checktype(L, t, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, t)) {
    const char *k = luaL_checkstring(L, -2);
    const char *v = luaL_checkstring(L, -1);
    if (strpbrk(k, ":\r\n") || strpbrk(v, "\r\n")) {
      curl_slist_free_all(list);
      luaL_error(L, "invalid header '%s'", k);
    }
    lua_pushfstring(L, "%s: %s", k, v);
    list = curl_slist_append(list, lua_tostring(L, -1));
    lua_pop(L, 2);
  }
  return list;
}

/* client{base_url=, headers=, timeout=, connect_timeout=, max_attempts=,
 *        max_connect_attempts=, deadline=,
 *        max_retry_time=, max_wait=, backoff_base=, backoff_cap=,
 *        concurrency=, rate=, auth=credentials, cacert=} */
static int http_client(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  Driver *d = upvalue_driver(L);
  lua_getfield(L, 1, "base_url");
  const char *base = luaL_checkstring(L, -1);
  int scheme = url_is_loopback_http(base);
  if (scheme == -2)
    return luaL_error(L, "base_url '%s' is not an http(s) URL", base);
  if (scheme == -1) {
    gc_pusherror(L, "usage", "refusing plain http to '%s': only https is allowed, except to loopback", base);
    return lua_error(L);
  }
  ClientBox *box = lua_newuserdatauv(L, sizeof *box, 0);
  box->c = NULL;
  luaL_setmetatable(L, CLIENT_MT);
  Client *c = calloc(1, sizeof *c);
  if (c == NULL)
    return luaL_error(L, "not enough memory");
  box->c = c;
  c->refs = 1;
  c->d = d;
  d->refs++;
  size_t blen = strlen(base);
  while (blen > 0 && base[blen - 1] == '/')
    blen--;
  c->base_url = strndup(base, blen);
  c->timeout_ms = (long)(opt_number(L, 1, "timeout", 30) * 1000);
  c->connect_timeout_ms = (long)(opt_number(L, 1, "connect_timeout", 10) * 1000);
  c->max_attempts = (int)opt_number(L, 1, "max_attempts", 5);
  c->max_retry_time = opt_number(L, 1, "max_retry_time", 120);
  c->max_wait = opt_number(L, 1, "max_wait", 60);
  c->deadline = opt_number(L, 1, "deadline", 150);
  c->max_connect_attempts = (int)opt_number(L, 1, "max_connect_attempts", 6);
  c->backoff_base = opt_number(L, 1, "backoff_base", 0.5);
  c->backoff_cap = opt_number(L, 1, "backoff_cap", 30);
  c->concurrency = (int)opt_number(L, 1, "concurrency", 8);
  c->rate = opt_number(L, 1, "rate", 0);
  lua_getfield(L, 1, "pace");
  c->pace = lua_isnil(L, -1) || lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (c->max_attempts < 1) c->max_attempts = 1;
  if (c->concurrency < 1) c->concurrency = 1;
  lua_getfield(L, 1, "cacert");
  if (lua_isstring(L, -1))
    c->cacert = strdup(lua_tostring(L, -1));
  lua_pop(L, 1);
  lua_getfield(L, 1, "headers");
  c->headers = header_list(L, lua_gettop(L), NULL);
  lua_pop(L, 1);
  lua_getfield(L, 1, "auth");
  if (!lua_isnil(L, -1)) {
    Credentials *cr = gc_credentials(L, -1);
    if (cr == NULL)
      return luaL_error(L, "auth must be credentials from gcrun.oauth.resolve");
    c->auth = cr;
    cr->refs++;
  }
  lua_pop(L, 1);
  return 1;
}

static int client_gc(lua_State *L)
{
  ClientBox *b = luaL_checkudata(L, 1, CLIENT_MT);
  client_release(b->c);
  b->c = NULL;
  return 0;
}

static int client_stats(lua_State *L)
{
  Client *c = check_client(L, 1);
  lua_createtable(L, 0, 7);
  lua_pushinteger(L, c->stat_requests);
  lua_setfield(L, -2, "requests");
  lua_pushinteger(L, c->stat_retries);
  lua_setfield(L, -2, "retries");
  lua_pushinteger(L, c->stat_throttled);
  lua_setfield(L, -2, "throttled");
  lua_pushinteger(L, c->stat_failures);
  lua_setfield(L, -2, "failures");
  lua_pushinteger(L, c->inflight);
  lua_setfield(L, -2, "inflight");
  if (c->rl_known) {
    lua_pushinteger(L, c->rl_allowed - c->rl_count);
    lua_setfield(L, -2, "budget_left");
  }
  /* how long requests are held for the rate budget (or a 429's wait):
   * what a progress line says a run is waiting for */
  double hold = c->next_send - gc_now();
  lua_pushnumber(L, hold > 0 ? hold : 0);
  lua_setfield(L, -2, "rate_hold");
  return 1;
}

/* base_url + path. The path arrives encoded (lua/gcrun/http.lua fills in
 * parameters and the query string); an absolute URL must stay under the
 * client's base, so the token never travels to another host. */
static void build_url(lua_State *L, Client *c, int req)
{
  lua_getfield(L, req, "path");
  const char *path = luaL_checkstring(L, -1);
  if (strncmp(path, "http://", 7) == 0 || strncmp(path, "https://", 8) == 0) {
    size_t n = strlen(c->base_url);
    if (strncmp(path, c->base_url, n) != 0 || (path[n] != '/' && path[n] != '\0' && path[n] != '?'))
      luaL_error(L, "refusing a request to '%s': not under %s", path, c->base_url);
    path += n;
  }
  for (const char *p = path; *p; p++)
    if ((unsigned char)*p <= ' ' || *p == 0x7f)
      luaL_error(L, "path '%s' has a space or control character", path);
  lua_pushfstring(L, "%s%s%s", c->base_url, *path == '/' ? "" : "/", path);
  lua_remove(L, -2);
}

/* client:start{method=, path=, headers=, body=, idempotent=, cleanup=,
 *              auth=} -> transfer */
static int client_start(lua_State *L)
{
  Client *c = check_client(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  Driver *d = c->d;
  lua_settop(L, 2);
  lua_getfield(L, 2, "method");
  const char *method = luaL_optstring(L, -1, "GET");
  for (const char *p = method; *p; p++)
    if (!isupper((unsigned char)*p))
      return luaL_error(L, "method '%s' must be upper case letters", method);
  build_url(L, c, 2);
  const char *url = lua_tostring(L, -1);
  TransferBox *box = lua_newuserdatauv(L, sizeof *box, 1);
  box->t = NULL;
  luaL_setmetatable(L, TRANSFER_MT);
  int bi = lua_gettop(L);
  lua_pushvalue(L, 1);                 /* the transfer keeps its client alive */
  lua_setiuservalue(L, bi, 1);
  Transfer *t = transfer_new(c, method, url);
  if (t == NULL)
    return luaL_error(L, "not enough memory");
  box->t = t;
  t->has_box = 1;
  lua_getfield(L, 2, "headers");
  t->headers = header_list(L, lua_gettop(L), NULL);
  lua_pop(L, 1);
  lua_getfield(L, 2, "body");
  if (!lua_isnil(L, -1)) {
    size_t len;
    const char *body = luaL_checklstring(L, -1, &len);
    t->body = malloc(len + 1);
    if (t->body == NULL)
      return luaL_error(L, "not enough memory");
    memcpy(t->body, body, len + 1);
    t->body_len = len;
  }
  lua_pop(L, 1);
  int safe_method = strcmp(method, "POST") != 0;
  lua_getfield(L, 2, "idempotent");
  t->idempotent = lua_isnil(L, -1) ? safe_method : lua_toboolean(L, -1);
  lua_getfield(L, 2, "cleanup");
  t->cleanup = lua_toboolean(L, -1);
  lua_getfield(L, 2, "auth");
  t->needs_auth = c->auth != NULL && (lua_isnil(L, -1) || lua_toboolean(L, -1));
  lua_pop(L, 3);
  driver_enqueue(d, t);
  /* remember the box by address so `wait` can hand it back; weak values,
   * so a transfer nobody holds is collected and cancelled */
  lua_getfield(L, LUA_REGISTRYINDEX, BOXES);
  lua_pushlightuserdata(L, t);
  lua_pushvalue(L, bi);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  lua_pushvalue(L, bi);
  return 1;
}

static int transfer_gc(lua_State *L)
{
  TransferBox *b = luaL_checkudata(L, 1, TRANSFER_MT);
  if (b->t)
    transfer_release(b->t);
  b->t = NULL;
  return 0;
}

static int transfer_done(lua_State *L)
{
  Transfer *t = check_transfer(L, 1);
  lua_pushboolean(L, t->state == T_DONE && !t->in_driver);
  return 1;
}

static int transfer_info(lua_State *L)
{
  Transfer *t = check_transfer(L, 1);
  lua_createtable(L, 0, 3);
  lua_pushstring(L, t->method);
  lua_setfield(L, -2, "method");
  lua_pushstring(L, t->url);
  lua_setfield(L, -2, "url");
  lua_pushboolean(L, t->idempotent);
  lua_setfield(L, -2, "idempotent");
  return 1;
}

static void set_common(lua_State *L, Transfer *t)
{
  lua_pushstring(L, t->method);
  lua_setfield(L, -2, "method");
  lua_pushstring(L, t->url);
  lua_setfield(L, -2, "url");
  lua_pushinteger(L, t->attempts);
  lua_setfield(L, -2, "attempts");
  lua_pushnumber(L, t->retried_for);
  lua_setfield(L, -2, "retried_for");
  lua_pushinteger(L, t->n429);
  lua_setfield(L, -2, "throttled");
  lua_pushnumber(L, t->first_start ? t->finished - t->first_start : 0);
  lua_setfield(L, -2, "elapsed");
  if (t->gave_up) {
    lua_pushstring(L, t->gave_up);
    lua_setfield(L, -2, "gave_up");
  }
  attempts_push(L, t);
  lua_setfield(L, -2, "attempt_log");
}

/* result() -> response | nil, error */
static int transfer_result(lua_State *L)
{
  Transfer *t = check_transfer(L, 1);
  if (t->state != T_DONE || t->in_driver)
    return luaL_error(L, "the transfer has not finished");
  if (t->err_code) {
    lua_pushnil(L);
    gc_pusherror(L, t->err_code, "%s", t->err_msg ? t->err_msg : t->err_code);
    set_common(L, t);
    return 2;
  }
  lua_createtable(L, 0, 10);
  lua_pushinteger(L, t->status);
  lua_setfield(L, -2, "status");
  /* an answer that echoes the token or the secret never gets them shown */
  if (t->resp_body.data && t->c->auth) {
    const char *used[] = { t->token_used ? t->token_used : "", NULL };
    redact_known(t->resp_body.data, t->resp_body.len, used);
    t->c->auth->ops->mask(t->c->auth, t->resp_body.data, t->resp_body.len);
  }
  lua_pushlstring(L, t->resp_body.data ? t->resp_body.data : "", t->resp_body.len);
  lua_setfield(L, -2, "body");
  transfer_drop_body(t);        /* Lua holds it now: the budget gets the bytes back */
  lua_newtable(L);
  struct curl_header *h, *prev = NULL;
  while ((h = curl_easy_nextheader(t->easy, CURLH_HEADER, -1, prev)) != NULL) {
    luaL_Buffer name;
    luaL_buffinit(L, &name);
    for (const char *p = h->name; *p; p++)
      luaL_addchar(&name, (char)tolower((unsigned char)*p));
    luaL_pushresult(&name);
    lua_pushvalue(L, -1);
    lua_rawget(L, -3);
    if (lua_isstring(L, -1)) {           /* repeated header: join */
      lua_pushfstring(L, "%s, %s", lua_tostring(L, -1), h->value);
      lua_remove(L, -2);
    } else {
      lua_pop(L, 1);
      lua_pushstring(L, h->value);
    }
    lua_rawset(L, -3);
    prev = h;
  }
  lua_setfield(L, -2, "headers");
  set_common(L, t);
  return 1;
}

/* wait([timeout]) -> finished transfers, retry log lines */
static int http_wait(lua_State *L)
{
  Driver *d = upvalue_driver(L);
  double timeout = luaL_optnumber(L, 1, -1);
  driver_wait(d, L, timeout);
  lua_newtable(L);
  lua_getfield(L, LUA_REGISTRYINDEX, BOXES);
  int n = 0;
  Transfer *t;
  while ((t = driver_take_done(d)) != NULL) {
    lua_pushlightuserdata(L, t);
    lua_rawget(L, -2);
    if (lua_isuserdata(L, -1)) {
      lua_rawseti(L, -3, ++n);
      lua_pushlightuserdata(L, t);
      lua_pushnil(L);
      lua_rawset(L, -3);
    } else {
      lua_pop(L, 1);                   /* its handle is gone: nobody wants it */
    }
  }
  lua_pop(L, 1);
  lua_newtable(L);
  n = 0;
  for (Event *e = driver_take_events(d), *next; e; e = next) {
    next = e->next;
    lua_createtable(L, 0, 2);
    lua_pushstring(L, e->line);
    lua_setfield(L, -2, "line");
    lua_pushinteger(L, e->level);
    lua_setfield(L, -2, "level");
    lua_rawseti(L, -2, ++n);
    free(e->line);
    free(e);
  }
  return 2;
}

/* Call fn on the string argument and return its malloc'd result. */
static int push_transformed(lua_State *L, char *(*fn)(const char *, size_t))
{
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  char *r = fn(s, len);
  if (r == NULL)
    return luaL_error(L, "not enough memory");
  lua_pushstring(L, r);
  free(r);
  return 1;
}

/* json_cost(text) -> containers, values: what decoding the text would
 * build (arrays and objects; values, counted by their separators), from
 * one pass that skips strings, so a caller can refuse before decoding. */
static int http_json_cost(lua_State *L)
{
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  lua_Integer containers = 0, values = 0;
  for (size_t i = 0; i < len; i++) {
    char ch = s[i];
    if (ch == '"') {
      for (i++; i < len && s[i] != '"'; i++)
        if (s[i] == '\\')
          i++;
      values++;
    } else if (ch == '[' || ch == '{') {
      containers++;
    } else if (ch == ',') {
      values++;
    }
  }
  lua_pushinteger(L, containers);
  lua_pushinteger(L, values);
  return 2;
}

/* body_budget([bytes]) -> {budget=, held=, peak=}: the memory answers in
 * flight share (see on_body in driver.c); a number sets the budget. */
static int http_body_budget(lua_State *L)
{
  Driver *d = upvalue_driver(L);
  if (!lua_isnoneornil(L, 1)) {
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n > 0, 1, "the budget must be positive");
    d->body_budget = (size_t)n;
    d->body_peak = d->body_bytes;
  }
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)d->body_budget);
  lua_setfield(L, -2, "budget");
  lua_pushinteger(L, (lua_Integer)d->body_bytes);
  lua_setfield(L, -2, "held");
  lua_pushinteger(L, (lua_Integer)d->body_peak);
  lua_setfield(L, -2, "peak");
  return 1;
}

static int http_redact(lua_State *L)
{
  return push_transformed(L, redact_body);
}

static int http_encode(lua_State *L)
{
  return push_transformed(L, url_encode);
}

/* retry_after(value [, now]) -> seconds | nil (the driver's parser) */
static int http_retry_after(lua_State *L)
{
  const char *v = luaL_optstring(L, 1, NULL);
  double now = luaL_optnumber(L, 2, (double)time(NULL));
  double s = parse_retry_after(v, now);
  if (s < 0) lua_pushnil(L); else lua_pushnumber(L, s);
  return 1;
}

/* versions() -> the libraries in use (runtime, unlike sys.versions) */
static int http_versions(lua_State *L)
{
  curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
  lua_createtable(L, 0, 3);
  lua_pushstring(L, v->version);
  lua_setfield(L, -2, "libcurl");
  lua_pushstring(L, v->ssl_version ? v->ssl_version : "none");
  lua_setfield(L, -2, "tls");
  lua_pushboolean(L, (v->features & CURL_VERSION_HTTP2) != 0);
  lua_setfield(L, -2, "http2");
  return 1;
}

static int driver_gc(lua_State *L)
{
  DriverBox *b = luaL_checkudata(L, 1, DRIVER_MT);
  if (b->d)
    driver_release(b->d);
  b->d = NULL;
  return 0;
}

int luaopen_gcrun_http_core(lua_State *L)
{
  static const luaL_Reg client_methods[] = {
    {"start", client_start},
    {"stats", client_stats},
    {"close", client_gc},
    {NULL, NULL}
  };
  static const luaL_Reg transfer_methods[] = {
    {"result", transfer_result},
    {"done", transfer_done},
    {"info", transfer_info},
    {"cancel", transfer_gc},
    {NULL, NULL}
  };
  static const luaL_Reg funcs[] = {
    {"client", http_client},
    {"wait", http_wait},
    {"redact", http_redact},
    {"json_cost", http_json_cost},
    {"body_budget", http_body_budget},
    {"encode", http_encode},
    {"retry_after", http_retry_after},
    {"versions", http_versions},
    {NULL, NULL}
  };

  luaL_newmetatable(L, DRIVER_MT);
  lua_pushcfunction(L, driver_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  gc_newclass(L, CLIENT_MT, client_methods, client_gc);
  gc_newclass(L, TRANSFER_MT, transfer_methods, transfer_gc);

  lua_newtable(L);                      /* address -> transfer box, weak values */
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, BOXES);

  lua_newtable(L);
  DriverBox *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->d = driver_new();
  if (b->d == NULL)
    return luaL_error(L, "cannot initialise libcurl");
  luaL_setmetatable(L, DRIVER_MT);
  luaL_setfuncs(L, funcs, 1);
  return 1;
}
