/* gcrun.server: an HTTP server over libmicrohttpd for the sandbox and the
 * tests. Two threads: libmicrohttpd's, which only moves bytes (it collects
 * a request, suspends the connection and queues the request), and the
 * handler thread, which owns a Lua state of its own, runs the handler in a
 * protected call and resumes the connection when the response is due. So
 * Lua never runs on libmicrohttpd's stack, a slow answer (--latency) never
 * holds up the others, and a client in the creating thread can talk to
 * the server without deadlock. */
#include "config.h"

#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <lualib.h>

#include "host.h"
#include "http.h"

#define SERVER_MT "gcrun.server.Server"
/* Bodies are held in memory until the handler runs, so their memory is
 * bounded three ways: a request with a bearer token the handler issued
 * may send MAX_REQUEST_BODY; one without (a token request, or an
 * attacker) only max_anon_body, when the handler asks for that limit
 * (the sandbox does); and all bodies together MAX_BUFFERED,
 * beyond which requests are answered 503 instead of buffered. */
#define MAX_REQUEST_BODY (16u * 1024 * 1024)
#define MAX_BUFFERED (64u * 1024 * 1024)
#define GRANT_BUCKETS 1024

/* A bearer token the handler issued, mirrored here so libmicrohttpd's
 * thread can tell an authenticated request before reading its body
 * without calling Lua. The handler's own table stays the authority. */
typedef struct Grant {
  struct Grant *next;
  double expires;
  char token[];
} Grant;

typedef struct Pair {
  char *name, *value;
} Pair;

typedef struct Req {
  struct Req *next;
  struct MHD_Connection *conn;
  char *method, *url;
  Pair *headers, *query;
  size_t nheaders, nquery;
  Buf body;
  size_t body_cap, accounted;     /* its limit; the bytes counted in Server.buffered */
  int too_large, overloaded, queued;
  double arrived, due;
  /* the answer, written by the handler thread before it resumes */
  int ready, drop, commit;
  unsigned status;
  char *resp_body;
  size_t resp_len;
  Pair *resp_headers;
  size_t nresp_headers;
} Req;

typedef struct Server {
  struct MHD_Daemon *mhd;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  Req *incoming, **incoming_tail;
  Req *delayed;                   /* answered, waiting for their due time */
  int stopping, ready, failed, thread_started;
  char *error;
  char *close_error;              /* the handler's close (final save) failed */
  char *module, *args, *path, *datadir, *host;
  char *tls_cert, *tls_key;       /* PEM text: serve HTTPS */
  int port;
  int lock_fd;                    /* held on <state>.lock while serving, or -1 */
  size_t max_body, max_anon_body, max_buffered;
  pthread_mutex_t grants_mu;
  Grant *grants[GRANT_BUCKETS];
  double grants_swept;
  atomic_long connections, requests, buffered, buffered_peak, grant_count;
} Server;

typedef struct { Server *s; } ServerBox;

static void pairs_free(Pair *p, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free(p[i].name);
    free(p[i].value);
  }
  free(p);
}

/* ---- issued tokens ---- */

static unsigned grant_hash(const char *t)
{
  unsigned h = 2166136261u;
  for (; *t; t++)
    h = (h ^ (unsigned char)*t) * 16777619u;
  return h % GRANT_BUCKETS;
}

/* Drop expired tokens from one bucket. Called with grants_mu held. */
static void grants_prune(Server *s, Grant **p, double now)
{
  while (*p) {
    if ((*p)->expires <= now) {
      Grant *g = *p;
      *p = g->next;
      free(g);
      atomic_fetch_sub(&s->grant_count, 1);
    } else {
      p = &(*p)->next;
    }
  }
}

static void grant_add(Server *s, const char *token, double ttl)
{
  size_t n = strlen(token);
  Grant *g = malloc(sizeof *g + n + 1);
  if (g == NULL)
    return;             /* the request then only gets the small body limit */
  memcpy(g->token, token, n + 1);
  double now = gc_now();
  g->expires = now + ttl;
  pthread_mutex_lock(&s->grants_mu);
  if (now - s->grants_swept >= 1.0) {    /* expired tokens leave the table */
    for (int i = 0; i < GRANT_BUCKETS; i++)
      grants_prune(s, &s->grants[i], now);
    s->grants_swept = now;
  }
  unsigned h = grant_hash(token);
  g->next = s->grants[h];
  s->grants[h] = g;
  atomic_fetch_add(&s->grant_count, 1);
  pthread_mutex_unlock(&s->grants_mu);
}

static int grant_valid(Server *s, const char *token)
{
  int found = 0;
  double now = gc_now();
  unsigned h = grant_hash(token);
  pthread_mutex_lock(&s->grants_mu);
  grants_prune(s, &s->grants[h], now);
  for (Grant *g = s->grants[h]; g && !found; g = g->next)
    found = strcmp(g->token, token) == 0;
  pthread_mutex_unlock(&s->grants_mu);
  return found;
}

static void grants_free(Server *s)
{
  for (int i = 0; i < GRANT_BUCKETS; i++)
    for (Grant *g = s->grants[i], *n; g; g = n) {
      n = g->next;
      free(g);
    }
}

/* ---- requests ---- */

static void req_free(Req *r)
{
  free(r->method);
  free(r->url);
  pairs_free(r->headers, r->nheaders);
  pairs_free(r->query, r->nquery);
  pairs_free(r->resp_headers, r->nresp_headers);
  buf_free(&r->body);
  free(r->resp_body);
  free(r);
}

static int add_pair(Pair **list, size_t *n, const char *name, const char *value)
{
  Pair *p = realloc(*list, (*n + 1) * sizeof *p);
  if (p == NULL)
    return -1;
  *list = p;
  p[*n].name = strdup(name ? name : "");
  p[*n].value = strdup(value ? value : "");
  (*n)++;
  return 0;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
  (void)kind;
  Req *r = cls;
  return add_pair(&r->headers, &r->nheaders, k, v) == 0 ? MHD_YES : MHD_NO;
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
  (void)kind;
  Req *r = cls;
  return add_pair(&r->query, &r->nquery, k, v) == 0 ? MHD_YES : MHD_NO;
}

/* Drop a request's body (too large, or over the total): it is answered
 * 413 or 503 without being buffered further. */
static void body_drop(Server *s, Req *r)
{
  atomic_fetch_sub(&s->buffered, (long)r->accounted);
  r->accounted = 0;
  buf_free(&r->body);
}

/* Add a chunk of the body within the request's limit and the total. */
static void body_add(Server *s, Req *r, const char *data, size_t n)
{
  if (r->too_large || r->overloaded)
    return;
  if (r->body.len + n > r->body_cap) {
    r->too_large = 1;
    body_drop(s, r);
    return;
  }
  size_t cap = r->body.cap ? r->body.cap : 1024;   /* what buf_add will hold */
  while (cap < r->body.len + n + 1)
    cap *= 2;
  long grow = (long)(cap - r->accounted);
  if (atomic_load(&s->buffered) + grow > (long)s->max_buffered) {
    r->overloaded = 1;
    body_drop(s, r);
    return;
  }
  if (buf_add(&r->body, data, n) != 0) {
    r->overloaded = 1;
    body_drop(s, r);
    return;
  }
  long now = atomic_fetch_add(&s->buffered, (long)(r->body.cap - r->accounted)) + (long)(r->body.cap - r->accounted);
  r->accounted = r->body.cap;
  long peak = atomic_load(&s->buffered_peak);
  while (now > peak && !atomic_compare_exchange_weak(&s->buffered_peak, &peak, now)) {
  }
}

/* The body limit of a request, from its headers alone: the large one
 * only with a bearer token the handler issued. */
static size_t body_limit(Server *s, struct MHD_Connection *conn)
{
  const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
    const char *t = auth + 7;
    while (*t == ' ')
      t++;
    if (*t && grant_valid(s, t))
      return s->max_body;
  }
  return s->max_anon_body;
}

static const char TOO_LARGE[] =
  "{\"message\":\"The request body is too large\",\"code\":\"request.entity.too.large\",\"status\":413}";

/* An answer from libmicrohttpd's thread itself, before the body is read
 * (libmicrohttpd then discards the body and closes the connection). */
static enum MHD_Result answer_now(struct MHD_Connection *conn, unsigned status, const char *json)
{
  struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(json), (void *)json, MHD_RESPMEM_PERSISTENT);
  if (resp == NULL)
    return MHD_NO;
  MHD_add_response_header(resp, "Content-Type", "application/json");
  MHD_add_response_header(resp, "Connection", "close");
  enum MHD_Result ret = MHD_queue_response(conn, status, resp);
  MHD_destroy_response(resp);
  return ret;
}

/* libmicrohttpd's thread: collect, queue, suspend; after the resume, send. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
  (void)version;
  Server *s = cls;
  Req *r = *con_cls;
  if (r == NULL) {
    r = calloc(1, sizeof *r);
    if (r == NULL)
      return MHD_NO;
    r->method = strdup(method);
    r->url = strdup(url);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, r);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_query, r);
    /* authenticate before reading a byte of the body */
    r->body_cap = body_limit(s, conn);
    const char *clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    *con_cls = r;
    if (clen && strtoull(clen, NULL, 10) > r->body_cap) {
      /* too large by its own account: answered now, the body never read */
      atomic_fetch_add(&s->requests, 1);
      return answer_now(conn, 413, TOO_LARGE);
    }
    return MHD_YES;
  }
  if (*upload_size > 0) {
    body_add(s, r, upload, *upload_size);
    *upload_size = 0;
    return MHD_YES;
  }
  if (!r->queued) {
    r->queued = 1;
    r->conn = conn;
    r->arrived = gc_now();
    atomic_fetch_add(&s->requests, 1);
    pthread_mutex_lock(&s->mu);
    r->next = NULL;
    *s->incoming_tail = r;
    s->incoming_tail = &r->next;
    MHD_suspend_connection(conn);       /* before the handler can resume it */
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return MHD_YES;
  }
  if (r->drop || !r->ready)
    return MHD_NO;                      /* close without an answer */
  struct MHD_Response *resp = MHD_create_response_from_buffer(r->resp_len, r->resp_body,
                                                              MHD_RESPMEM_MUST_COPY);
  if (resp == NULL)
    return MHD_NO;
  for (size_t i = 0; i < r->nresp_headers; i++)
    MHD_add_response_header(resp, r->resp_headers[i].name, r->resp_headers[i].value);
  enum MHD_Result ret = MHD_queue_response(conn, r->status, resp);
  MHD_destroy_response(resp);
  return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
  (void)conn; (void)code;
  Server *s = cls;
  if (*con_cls) {
    body_drop(s, *con_cls);
    req_free(*con_cls);
  }
  *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code)
{
  (void)conn; (void)socket_ctx;
  Server *s = cls;
  if (code == MHD_CONNECTION_NOTIFY_STARTED)
    atomic_fetch_add(&s->connections, 1);
}

/* ---- the handler thread ---- */

static void push_pairs(lua_State *L, Pair *p, size_t n, int lower, int lists)
{
  lua_createtable(L, 0, (int)n);
  for (size_t i = 0; i < n; i++) {
    if (lower)
      for (char *c = p[i].name; *c; c++)
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    lua_getfield(L, -1, p[i].name);
    if (lists && !lua_isnil(L, -1)) {   /* repeated query key: a list */
      if (!lua_istable(L, -1)) {
        lua_createtable(L, 2, 0);
        lua_insert(L, -2);
        lua_rawseti(L, -2, 1);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, p[i].name);
      }
      lua_pushstring(L, p[i].value);
      lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
      lua_pop(L, 1);
    } else {
      lua_pop(L, 1);
      lua_pushstring(L, p[i].value);
      lua_setfield(L, -2, p[i].name);
    }
  }
}

static void set_answer(Req *r, unsigned status, const char *body, size_t len)
{
  r->status = status;
  free(r->resp_body);
  r->resp_body = malloc(len ? len : 1);
  if (r->resp_body)
    memcpy(r->resp_body, body, len);
  r->resp_len = r->resp_body ? len : 0;
}

/* Call handler(req) -> status, headers, body, opts. Stack: 1 = handler object. */
static void handle(lua_State *L, Server *s, Req *r)
{
  int top = lua_gettop(L);
  if (r->too_large) {
    set_answer(r, 413, TOO_LARGE, sizeof TOO_LARGE - 1);
    add_pair(&r->resp_headers, &r->nresp_headers, "Content-Type", "application/json");
    return;
  }
  if (r->overloaded) {
    static const char msg[] = "{\"message\":\"Service Unavailable - The server is currently unavailable\",\"code\":\"service.unavailable\",\"status\":503}";
    set_answer(r, 503, msg, sizeof msg - 1);
    add_pair(&r->resp_headers, &r->nresp_headers, "Content-Type", "application/json");
    add_pair(&r->resp_headers, &r->nresp_headers, "Retry-After", "1");
    return;
  }
  lua_getfield(L, 1, "handle");
  lua_pushvalue(L, 1);
  lua_createtable(L, 0, 6);
  lua_pushstring(L, r->method);
  lua_setfield(L, -2, "method");
  lua_pushstring(L, r->url);
  lua_setfield(L, -2, "path");
  push_pairs(L, r->query, r->nquery, 0, 1);
  lua_setfield(L, -2, "query");
  push_pairs(L, r->headers, r->nheaders, 1, 0);
  lua_setfield(L, -2, "headers");
  lua_pushlstring(L, r->body.data ? r->body.data : "", r->body.len);
  lua_setfield(L, -2, "body");
  if (gc_docall(L, 2, 4) != LUA_OK) {
    const char *err = lua_tostring(L, -1);
    fprintf(stderr, "gcrun: server handler error: %s\n", err ? err : "(not a string)");
    static const char msg[] = "{\"message\":\"The server encountered an unexpected condition\",\"code\":\"internal.server.error\",\"status\":500}";
    set_answer(r, 500, msg, sizeof msg - 1);
    add_pair(&r->resp_headers, &r->nresp_headers, "Content-Type", "application/json");
    lua_settop(L, top);
    return;
  }
  int base = top + 1;
  unsigned status = (unsigned)luaL_optinteger(L, base, 200);
  if (lua_istable(L, base + 1)) {
    lua_pushnil(L);
    while (lua_next(L, base + 1)) {
      if (lua_type(L, -2) == LUA_TSTRING && lua_isstring(L, -1))
        add_pair(&r->resp_headers, &r->nresp_headers, lua_tostring(L, -2), lua_tostring(L, -1));
      lua_pop(L, 1);
    }
  }
  size_t len = 0;
  const char *body = lua_tolstring(L, base + 2, &len);
  set_answer(r, status, body ? body : "", body ? len : 0);
  if (lua_istable(L, base + 3)) {
    lua_getfield(L, base + 3, "delay");
    double delay = lua_tonumber(L, -1);
    r->due = r->arrived + (delay > 0 ? delay : 0);
    lua_getfield(L, base + 3, "drop");
    r->drop = lua_toboolean(L, -1);
    lua_getfield(L, base + 3, "commit");
    r->commit = lua_toboolean(L, -1);
    lua_getfield(L, base + 3, "grant");         /* a token issued: mirror it */
    lua_getfield(L, base + 3, "grant_ttl");
    if (lua_type(L, -2) == LUA_TSTRING && lua_tonumber(L, -1) > 0)
      grant_add(s, lua_tostring(L, -2), lua_tonumber(L, -1));
    lua_pop(L, 5);
  }
  lua_settop(L, top);
}

/* Call the handler object's method `name` if it has one; 0 if it failed
 * (its message, said on stderr, also kept in *error if given). */
static int call_method(lua_State *L, const char *name, char **error)
{
  lua_getfield(L, 1, name);
  if (!lua_isfunction(L, -1)) {
    lua_pop(L, 1);
    return 1;
  }
  lua_pushvalue(L, 1);
  if (gc_docall(L, 1, 0) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "gcrun: server %s failed: %s\n", name, msg ? msg : "(not a string)");
    if (error) {
      free(*error);
      *error = strdup(msg ? msg : name);
    }
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

/* A write whose save failed is answered 500, never with the handler's
 * success: what is not on disk must not be acknowledged. */
static void fail_unsaved(Req *r)
{
  static const char msg[] = "{\"message\":\"The change could not be saved\",\"code\":\"internal.server.error\",\"status\":500}";
  pairs_free(r->resp_headers, r->nresp_headers);
  r->resp_headers = NULL;
  r->nresp_headers = 0;
  set_answer(r, 500, msg, sizeof msg - 1);
  add_pair(&r->resp_headers, &r->nresp_headers, "Content-Type", "application/json");
}

static void release(Req *r)
{
  r->ready = 1;
  MHD_resume_connection(r->conn);
}

/* Insert by due time. Called with the lock held. */
static void schedule(Server *s, Req *r)
{
  Req **p = &s->delayed;
  while (*p && (*p)->due <= r->due)
    p = &(*p)->next;
  r->next = *p;
  *p = r;
}

/* Load the handler module in the thread's own state: it returns either a
 * function (the handler) or a table with new(args) -> object with
 * handle(self, req) and optionally commit(self) and close(self). */
static int setup(lua_State *L, Server *s)
{
  gc_openstate(L, s->datadir);
  lua_getglobal(L, "package");
  lua_pushstring(L, s->path);
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
  lua_getglobal(L, "require");
  lua_pushstring(L, s->module);
  if (gc_docall(L, 1, 1) != LUA_OK)
    return 0;
  if (lua_isfunction(L, -1)) {           /* a plain handler function */
    luaL_loadstring(L, "local f = ... return { handle = function(_, req) return f(req) end }");
    lua_insert(L, -2);
    return gc_docall(L, 1, 1) == LUA_OK;
  }
  if (!lua_istable(L, -1)) {
    lua_pushfstring(L, "handler module '%s' returns neither a function nor a table", s->module);
    return 0;
  }
  lua_getfield(L, -1, "new");
  lua_remove(L, -2);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "gcrun.json");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "decode");
  lua_remove(L, -2);
  lua_pushstring(L, s->args ? s->args : "{}");
  lua_call(L, 1, 1);
  if (gc_docall(L, 1, 1) != LUA_OK)
    return 0;
  if (!lua_istable(L, -1)) {
    lua_pushfstring(L, "handler module '%s': new() must return an object", s->module);
    return 0;
  }
  return 1;
}

static void *handler_thread(void *arg)
{
  Server *s = arg;
  lua_State *L = luaL_newstate();
  int ok = L && setup(L, s);
  pthread_mutex_lock(&s->mu);
  if (!ok) {
    s->failed = 1;
    s->error = strdup(L && lua_tostring(L, -1) ? lua_tostring(L, -1) : "cannot create a Lua state");
  }
  s->ready = 1;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  if (!ok) {
    if (L) lua_close(L);
    return NULL;
  }
  lua_settop(L, 1);   /* the handler object stays at index 1 */

  pthread_mutex_lock(&s->mu);
  while (!s->stopping) {
    if (s->incoming) {
      Req *batch = s->incoming;
      s->incoming = NULL;
      s->incoming_tail = &s->incoming;
      pthread_mutex_unlock(&s->mu);
      Req *held = NULL;
      for (Req *r = batch, *n; r; r = n) {
        n = r->next;
        handle(L, s, r);
        if (r->commit) {
          r->next = held;
          held = r;
        } else {
          pthread_mutex_lock(&s->mu);
          schedule(s, r);
          pthread_mutex_unlock(&s->mu);
        }
      }
      /* group commit: one save for every write in the batch, and none of
       * them is answered before it is on disk */
      if (held && !call_method(L, "commit", NULL))
        for (Req *r = held; r; r = r->next)
          fail_unsaved(r);
      pthread_mutex_lock(&s->mu);
      for (Req *r = held, *n; r; r = n) {
        n = r->next;
        schedule(s, r);
      }
      continue;
    }
    double now = gc_now();
    while (s->delayed && s->delayed->due <= now) {
      Req *r = s->delayed;
      s->delayed = r->next;
      release(r);
    }
    if (s->delayed) {
      double wait = s->delayed->due - now;
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      long ns = ts.tv_nsec + (long)((wait - (long)wait) * 1e9);
      ts.tv_sec += (time_t)wait + ns / 1000000000L;
      ts.tv_nsec = ns % 1000000000L;
      pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    } else {
      pthread_cond_wait(&s->cv, &s->mu);
    }
  }
  /* stopping: everything still waiting is dropped, then the state saved */
  for (Req *r = s->incoming, *n; r; r = n) {
    n = r->next;
    r->drop = 1;
    release(r);
  }
  s->incoming = NULL;
  for (Req *r = s->delayed, *n; r; r = n) {
    n = r->next;
    release(r);
  }
  s->delayed = NULL;
  pthread_mutex_unlock(&s->mu);
  if (!call_method(L, "close", &s->close_error) && s->close_error == NULL)
    s->close_error = strdup("close failed");
  lua_close(L);
  return NULL;
}

/* ---- Lua side ---- */

static void server_free(Server *s)
{
  free(s->error);
  free(s->close_error);
  free(s->module);
  free(s->args);
  free(s->path);
  free(s->datadir);
  free(s->host);
  free(s->tls_cert);
  if (s->tls_key) {
    memset(s->tls_key, 0, strlen(s->tls_key));
    free(s->tls_key);
  }
  if (s->lock_fd >= 0)
    close(s->lock_fd);      /* after the final save: the next sandbox may start */
  grants_free(s);
  pthread_mutex_destroy(&s->grants_mu);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  free(s);
}

static void server_shutdown(Server *s)
{
  if (s->thread_started) {
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    s->thread_started = 0;
  }
  if (s->mhd) {
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
  }
}

static Server *check_server(lua_State *L)
{
  ServerBox *b = luaL_checkudata(L, 1, SERVER_MT);
  if (b->s == NULL)
    luaL_error(L, "the server is stopped");
  return b->s;
}

static char *dup_field(lua_State *L, int t, const char *k, const char *def)
{
  lua_getfield(L, t, k);
  const char *v = lua_isstring(L, -1) ? lua_tostring(L, -1) : def;
  char *d = v ? strdup(v) : NULL;
  lua_pop(L, 1);
  return d;
}

/* The whole of a small file, or NULL. */
static char *slurp(const char *path)
{
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  Buf b = {0};
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
    if (buf_add(&b, chunk, n) != 0) {
      buf_free(&b);
      fclose(f);
      return NULL;
    }
  fclose(f);
  if (b.data == NULL)
    buf_add(&b, "", 0);
  return b.data;
}

/* One server per state file: an exclusive flock on "<state>.lock", held
 * until the server is freed (or the lock released). The lock file holds
 * the owner's pid for the message the next one prints. The descriptor, or
 * -1 with the error pushed. */
static int lock_state(lua_State *L, const char *state)
{
  lua_pushfstring(L, "%s.lock", state);
  const char *path = lua_tostring(L, -1);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    gc_pusherror(L, "input", "cannot open the lock file %s: %s", path, strerror(errno));
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int busy = errno == EWOULDBLOCK;
    char owner[32] = "";
    ssize_t n = busy ? pread(fd, owner, sizeof owner - 1, 0) : -1;
    owner[n > 0 ? n : 0] = '\0';
    owner[strcspn(owner, "\n")] = '\0';
    close(fd);
    if (busy)
      gc_pusherror(L, "input", "the sandbox state %s is in use by another sandbox (process %s); stop that one, "
                   "or give this one another state file (--state, --sandbox-state) or none (--memory)", state, owner[0] ? owner : "unknown");
    else
      gc_pusherror(L, "input", "cannot lock %s: %s", path, strerror(errno));
    return -1;
  }
  char pid[32];
  int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
    /* the pid only improves the message; the lock is what matters */
  }
  lua_pop(L, 1);
  return fd;
}

#define LOCK_MT "gcrun.server.Lock"

static int lock_release(lua_State *L)
{
  int *fd = luaL_checkudata(L, 1, LOCK_MT);
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
  return 0;
}

/* lock(state) -> lock with release(): the state file's lock without a
 * server, for work on the state while no sandbox may serve it (--reset). */
static int server_lock(lua_State *L)
{
  const char *state = luaL_checkstring(L, 1);
  int *box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = -1;
  luaL_setmetatable(L, LOCK_MT);
  int fd = lock_state(L, state);
  if (fd < 0)
    return lua_error(L);
  *box = fd;
  return 1;
}

/* listen{host="127.0.0.1", port=0, handler="module", args={...},
 *        tls_cert=PEM file, tls_key=PEM file, lock=state file,
 *        max_body=, max_anon_body=, max_buffered= (bytes)} -> server */
static int server_listen(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "handler");
  if (!lua_isstring(L, -1))
    return luaL_error(L, "server.listen needs handler = the name of a Lua module");
  lua_pop(L, 1);
  ServerBox *box = lua_newuserdatauv(L, sizeof *box, 0);
  box->s = NULL;
  luaL_setmetatable(L, SERVER_MT);
  Server *s = calloc(1, sizeof *s);
  if (s == NULL)
    return luaL_error(L, "not enough memory");
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  s->incoming_tail = &s->incoming;
  s->lock_fd = -1;
  pthread_mutex_init(&s->grants_mu, NULL);
  box->s = s;
  s->module = dup_field(L, 1, "handler", NULL);
  s->host = dup_field(L, 1, "host", "127.0.0.1");
  lua_getfield(L, 1, "port");
  lua_Integer port = luaL_optinteger(L, -1, 0);
  lua_pop(L, 1);
  if (port < 0 || port > 65535)
    return luaL_error(L, "port %d is out of range", (int)port);
  lua_getfield(L, 1, "args");
  if (!lua_isnil(L, -1)) {
    lua_getglobal(L, "require");
    lua_pushliteral(L, "gcrun.json");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "encode");
    lua_pushvalue(L, -3);
    lua_call(L, 1, 1);
    s->args = strdup(lua_tostring(L, -1));
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
  lua_getglobal(L, "package");
  s->path = dup_field(L, -1, "path", "");
  lua_pop(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, "gcrun.datadir");
  s->datadir = strdup(luaL_optstring(L, -1, gc_datadir()));
  lua_pop(L, 1);

  char *cert_path = dup_field(L, 1, "tls_cert", NULL), *key_path = dup_field(L, 1, "tls_key", NULL);
  if ((cert_path == NULL) != (key_path == NULL)) {
    free(cert_path);
    free(key_path);
    return luaL_error(L, "TLS needs both tls_cert and tls_key");
  }
  if (cert_path) {
    s->tls_cert = slurp(cert_path);
    s->tls_key = slurp(key_path);
    int missing = s->tls_cert == NULL ? 1 : s->tls_key == NULL ? 2 : 0;
    lua_pushstring(L, missing == 1 ? cert_path : key_path);
    free(cert_path);
    free(key_path);
    if (missing) {
      gc_pusherror(L, "server", "cannot read %s", lua_tostring(L, -1));
      return lua_error(L);
    }
    lua_pop(L, 1);
  }

  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, s->host, &addr.sin_addr) != 1)
    return luaL_error(L, "host '%s' is not an IPv4 address", s->host);

  lua_getfield(L, 1, "max_body");
  s->max_body = (size_t)luaL_optinteger(L, -1, MAX_REQUEST_BODY);
  lua_getfield(L, 1, "max_anon_body");   /* a handler that issues tokens sets it */
  s->max_anon_body = (size_t)luaL_optinteger(L, -1, (lua_Integer)s->max_body);
  lua_getfield(L, 1, "max_buffered");
  s->max_buffered = (size_t)luaL_optinteger(L, -1, MAX_BUFFERED);
  lua_pop(L, 3);

  lua_getfield(L, 1, "lock");
  if (lua_isstring(L, -1) && (s->lock_fd = lock_state(L, lua_tostring(L, -1))) < 0)
    return lua_error(L);
  lua_pop(L, 1);

  if (pthread_create(&s->thread, NULL, handler_thread, s) != 0)
    return luaL_error(L, "cannot start the handler thread");
  s->thread_started = 1;
  pthread_mutex_lock(&s->mu);
  while (!s->ready)
    pthread_cond_wait(&s->cv, &s->mu);
  pthread_mutex_unlock(&s->mu);
  if (s->failed) {
    pthread_join(s->thread, NULL);
    s->thread_started = 0;
    gc_pusherror(L, "server", "%s", s->error);
    return lua_error(L);
  }

  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY | MHD_ALLOW_SUSPEND_RESUME;
  s->mhd = MHD_start_daemon(
    flags | (s->tls_cert ? MHD_USE_TLS : 0),
    0, NULL, NULL, on_request, s,
    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
    MHD_OPTION_HTTPS_MEM_CERT, s->tls_cert ? s->tls_cert : "",
    MHD_OPTION_HTTPS_MEM_KEY, s->tls_key ? s->tls_key : "",
    MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
    MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1000,
    MHD_OPTION_END);
  if (s->mhd == NULL) {
    server_shutdown(s);
    gc_pusherror(L, "server", "cannot listen on %s:%d (in use, or not permitted)", s->host, (int)port);
    return lua_error(L);
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
  s->port = info ? info->port : (int)port;
  return 1;
}

static int server_port(lua_State *L)
{
  lua_pushinteger(L, check_server(L)->port);
  return 1;
}

static int server_url(lua_State *L)
{
  Server *s = check_server(L);
  lua_pushfstring(L, "%s://%s:%d", s->tls_cert ? "https" : "http", s->host, s->port);
  return 1;
}

static int server_stats(lua_State *L)
{
  Server *s = check_server(L);
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, atomic_load(&s->connections));
  lua_setfield(L, -2, "connections");
  lua_pushinteger(L, atomic_load(&s->requests));
  lua_setfield(L, -2, "requests");
  lua_pushinteger(L, atomic_load(&s->buffered));
  lua_setfield(L, -2, "buffered");
  lua_pushinteger(L, atomic_load(&s->buffered_peak));
  lua_setfield(L, -2, "buffered_peak");
  lua_pushinteger(L, atomic_load(&s->grant_count));
  lua_setfield(L, -2, "tokens");
  return 1;
}

/* stop() -> true | nil, message: answers nothing more, lets the handler
 * save, frees the port. The message says why the final save failed. */
static int server_stop(lua_State *L)
{
  ServerBox *b = luaL_checkudata(L, 1, SERVER_MT);
  if (b->s) {
    server_shutdown(b->s);
    char *failed = b->s->close_error;
    b->s->close_error = NULL;
    server_free(b->s);
    b->s = NULL;
    if (failed) {
      lua_pushnil(L);
      lua_pushstring(L, failed);
      free(failed);
      return 2;
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* wait_for_signal(): block until SIGINT, SIGTERM, SIGHUP or SIGQUIT
 * (gcrun sandbox; see signal.c). */
static int server_wait_for_signal(lua_State *L)
{
  check_server(L);
  while (!gc_interrupted()) {
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
  }
  return 0;
}

int luaopen_gcrun_server(lua_State *L)
{
  static const luaL_Reg methods[] = {
    {"port", server_port},
    {"url", server_url},
    {"stats", server_stats},
    {"stop", server_stop},
    {"wait_for_signal", server_wait_for_signal},
    {NULL, NULL}
  };
  static const luaL_Reg lock_methods[] = {
    {"release", lock_release},
    {NULL, NULL}
  };
  static const luaL_Reg funcs[] = {
    {"listen", server_listen},
    {"lock", server_lock},
    {NULL, NULL}
  };
  gc_newclass(L, SERVER_MT, methods, server_stop);
  gc_newclass(L, LOCK_MT, lock_methods, lock_release);
  luaL_newlib(L, funcs);
  return 1;
}
