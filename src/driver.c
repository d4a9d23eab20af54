/* The HTTP driver: every transfer of a Lua state goes through one curl
 * multi handle (one keep-alive pool, HTTP/2 where offered). The driver
 * starts queued transfers when their client's concurrency, pacing and
 * token allow, and decides after each attempt whether to retry (429,
 * 502/503/504, dropped connections, one 401 after a token refresh).
 * libcurl callbacks only copy bytes; Lua is never called from them. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "http.h"

#define MAX_BODY (64u * 1024 * 1024)   /* larger responses are refused */
#define BODY_BUDGET (256u * 1024 * 1024) /* answers buffered at once, all transfers */
#define MAX_HEADERS 256                /* header lines of one answer (the service sends ~20) */
#define MAX_HEADER_BYTES (256u * 1024)
#define POLL_SLICE 0.1                 /* how often an interrupt is noticed */
#define NOTICE_WAIT 3.0                /* waits this long are said at normal verbosity */

static double wall_now(void)
{
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* xorshift64*: jitter needs to be spread out, not unpredictable */
static double rand01(Driver *d)
{
  d->rng ^= d->rng >> 12;
  d->rng ^= d->rng << 25;
  d->rng ^= d->rng >> 27;
  return (double)((d->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

Driver *driver_new(void)
{
  /* counted by libcurl (7.84 and later): one init per driver, one cleanup
   * when the driver is freed */
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return NULL;
  Driver *d = calloc(1, sizeof *d);
  if (d == NULL) {
    curl_global_cleanup();
    return NULL;
  }
  d->multi = curl_multi_init();
  d->share = curl_share_init();
  if (d->multi == NULL || d->share == NULL) {
    if (d->multi) curl_multi_cleanup(d->multi);
    if (d->share) curl_share_cleanup(d->share);
    free(d);
    curl_global_cleanup();
    return NULL;
  }
  curl_share_setopt(d->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(d->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, 64L);
  d->events_tail = &d->events;
  d->rng = ((unsigned long long)time(NULL) << 20) ^ (unsigned long long)getpid() ^ 0x9E3779B97F4A7C15ULL;
  d->refs = 1;
  d->body_budget = BODY_BUDGET;
  return d;
}

void credentials_release(Credentials *cr)
{
  if (cr == NULL || --cr->refs > 0)
    return;
  free(cr->failure);
  cr->ops->free(cr);
}

/* A client is released here, with the driver it holds, so that the
 * binding (http.c) calls the driver and never the other way round. */
void client_release(Client *c)
{
  if (c == NULL || --c->refs > 0)
    return;
  free(c->base_url);
  free(c->cacert);
  curl_slist_free_all(c->headers);
  credentials_release(c->auth);
  driver_release(c->d);
  free(c);
}

static void unlink_from(Transfer **list, Transfer *t)
{
  for (Transfer **p = list; *p; p = &(*p)->next)
    if (*p == t) {
      *p = t->next;
      t->next = NULL;
      return;
    }
}

static void append(Transfer **list, Transfer *t)
{
  Transfer **p = list;
  while (*p)
    p = &(*p)->next;
  t->next = NULL;
  *p = t;
}

/* Free an answer's body and give its memory back to the budget. */
static void drop_body(Transfer *t)
{
  t->d->body_bytes -= t->resp_body.cap;
  buf_free(&t->resp_body);
}

void transfer_drop_body(Transfer *t)
{
  drop_body(t);
}

static void transfer_free(Transfer *t)
{
  if (t->easy)
    curl_easy_cleanup(t->easy);
  curl_slist_free_all(t->headers);
  curl_slist_free_all(t->sent);
  free(t->method);
  free(t->url);
  if (t->body && t->is_token)
    memset(t->body, 0, t->body_len);   /* it holds the client secret */
  free(t->body);
  if (t->token_used)
    memset(t->token_used, 0, strlen(t->token_used));
  free(t->token_used);
  free(t->err_msg);
  free(t->gave_up);
  free(t->log);
  drop_body(t);
  if (t->d->body_leader == t)
    t->d->body_leader = NULL;
  if (t->token_for)
    credentials_release(t->token_for);
  client_release(t->c);
  free(t);
}

/* Take a running attempt out of libcurl's hands. */
static void stop_running(Driver *d, Transfer *t)
{
  curl_multi_remove_handle(d->multi, t->easy);
  unlink_from(&d->active, t);
  d->running--;
  t->c->inflight--;
  t->state = T_DONE;
  t->paused = 0;
  if (d->body_leader == t)
    d->body_leader = NULL;    /* its answer is complete: the paused may go on */
}

/* Take a transfer out of the driver, wherever it is. */
static void detach(Driver *d, Transfer *t)
{
  if (!t->in_driver)
    return;
  if (t->state == T_RUNNING) {
    stop_running(d, t);
  } else if (t->state == T_QUEUED) {
    unlink_from(&d->queue, t);
  } else {
    unlink_from(&d->done, t);
  }
  if (t->token_for && t->token_for->refreshing == t)
    t->token_for->refreshing = NULL;
  t->in_driver = 0;
}

void transfer_release(Transfer *t)
{
  t->has_box = 0;
  detach(t->d, t);
  transfer_free(t);
}

void driver_release(Driver *d)
{
  if (--d->refs > 0)
    return;
  while (d->queue) {
    Transfer *t = d->queue;
    detach(d, t);
    if (!t->has_box) transfer_free(t);
  }
  while (d->active) {
    Transfer *t = d->active;
    detach(d, t);
    if (!t->has_box) transfer_free(t);
  }
  while (d->done) {
    Transfer *t = d->done;
    detach(d, t);
    if (!t->has_box) transfer_free(t);
  }
  for (Event *e = d->events, *n; e; e = n) {
    n = e->next;
    free(e->line);
    free(e);
  }
  curl_multi_cleanup(d->multi);
  curl_share_cleanup(d->share);
  free(d);
  curl_global_cleanup();
}

Transfer *transfer_new(Client *c, const char *method, const char *url)
{
  Transfer *t = calloc(1, sizeof *t);
  if (t == NULL)
    return NULL;
  t->d = c->d;
  t->c = c;
  c->refs++;
  t->method = strdup(method);
  t->url = strdup(url);
  t->easy = curl_easy_init();
  if (!t->method || !t->url || !t->easy) {
    transfer_free(t);
    return NULL;
  }
  return t;
}

void driver_enqueue(Driver *d, Transfer *t)
{
  double now = gc_now();
  t->state = T_QUEUED;
  t->in_driver = 1;
  t->enqueued = now;
  t->not_before = now;
  append(&d->queue, t);
}

static void event(Driver *d, int level, const char *fmt, ...)
{
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  Event *e = calloc(1, sizeof *e);
  if (e == NULL || (e->line = strdup(line)) == NULL) {
    free(e);
    return;
  }
  e->level = level;
  *d->events_tail = e;
  d->events_tail = &e->next;
}

Event *driver_take_events(Driver *d)
{
  Event *e = d->events;
  d->events = NULL;
  d->events_tail = &d->events;
  return e;
}

Transfer *driver_take_done(Driver *d)
{
  Transfer *t = d->done;
  if (t) {
    d->done = t->next;
    t->next = NULL;
    t->in_driver = 0;
  }
  return t;
}

static void complete(Driver *d, Transfer *t, double now)
{
  t->state = T_DONE;
  t->finished = now;
  append(&d->done, t);
}

static void fail(Driver *d, Transfer *t, const char *code, const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  free(t->err_msg);
  t->err_code = code;
  t->err_msg = strdup(msg);
  t->c->stat_failures++;
  if (t->state == T_QUEUED)
    unlink_from(&d->queue, t);
  complete(d, t, gc_now());
}

/* Called before each request goes on the wire, also when libcurl resends
 * one by itself because the reused connection died before any answer. */
static int on_prereq(void *ud, char *remote_ip, char *local_ip, int remote_port, int local_port)
{
  (void)remote_ip, (void)local_ip, (void)remote_port, (void)local_port;
  ((Transfer *)ud)->sends++;
  return CURL_PREREQFUNC_OK;
}

/* Answers in flight share one budget: past it, one transfer (the leader)
 * goes on and the others pause until its answer is complete and handed
 * over, so memory stays near the budget however many run at once. */
static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
  Transfer *t = ud;
  Driver *d = t->d;
  size_t len = size * n;
  if (t->resp_body.len + len > MAX_BODY)
    return 0;                 /* libcurl reports CURLE_WRITE_ERROR */
  if (d->body_bytes + len > d->body_budget && d->body_leader != t) {
    if (d->body_leader != NULL || d->done != NULL) {
      t->paused = 1;
      return CURL_WRITEFUNC_PAUSE;
    }
    d->body_leader = t;
  }
  size_t cap = t->resp_body.cap;
  if (buf_add(&t->resp_body, p, len) != 0)
    return 0;
  d->body_bytes += t->resp_body.cap - cap;    /* the memory held, not just the bytes */
  if (d->body_bytes > d->body_peak)
    d->body_peak = d->body_bytes;
  return len;
}

/* Count the answer's header lines: thousands of them cost quadratic time
 * in libcurl's header API, and no real answer has more than a few dozen. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
  Transfer *t = ud;
  size_t len = size * n;
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
    t->nheaders = 0;          /* a new answer (after a 1xx) */
    t->header_bytes = 0;
  }
  t->header_bytes += len;
  if (++t->nheaders > MAX_HEADERS || t->header_bytes > MAX_HEADER_BYTES) {
    t->too_many_headers = 1;
    return 0;                 /* libcurl reports CURLE_WRITE_ERROR */
  }
  return len;
}

/* Let paused transfers take their bytes again once no leader holds the
 * budget; they pause again at once if it is still spent. */
static void resume_paused(Driver *d)
{
  if (d->body_leader != NULL || d->done != NULL)
    return;
  for (Transfer *t = d->active; t; t = t->next)
    if (t->paused) {
      t->paused = 0;
      curl_easy_pause(t->easy, CURLPAUSE_CONT);
    }
}

/* Keep inside the budget the service reports: send freely while the
 * window has budget left after what is in flight, hold at zero until the
 * window resets. (Spreading the budget evenly instead would make a small
 * run crawl at 5 requests a second for nothing.) The client's own rate cap
 * spaces requests evenly. */
static void pace_after_send(Client *c, double now)
{
  c->next_send = c->rate > 0 ? now + 1.0 / c->rate : now;
  if (!c->pace || !c->rl_known)
    return;
  if (now >= c->rl_reset_at) {
    c->rl_known = 0;          /* a new window: the next answer tells its budget */
    return;
  }
  /* what the last answer counted, plus what is in flight (this one too) */
  if (c->rl_allowed - c->rl_count - c->inflight <= 0 && c->next_send < c->rl_reset_at) {
    c->next_send = c->rl_reset_at;
    double hold = c->rl_reset_at - now;
    event(c->d, hold >= NOTICE_WAIT ? 1 : 2,
          "rate budget used up (%ld requests a window); holding requests for %.0f s until it resets",
          c->rl_allowed, ceil(hold));
  }
}

static const char *header_value(Transfer *t, const char *name)
{
  struct curl_header *h;
  if (curl_easy_header(t->easy, name, 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
    return h->value;
  return NULL;
}

static void read_ratelimit(Transfer *t, double now)
{
  Client *c = t->c;
  long allowed, count, reset;
  if (parse_long_header(header_value(t, "inin-ratelimit-allowed"), &allowed) &&
      parse_long_header(header_value(t, "inin-ratelimit-count"), &count) &&
      parse_long_header(header_value(t, "inin-ratelimit-reset"), &reset) && allowed > 0) {
    /* the wait a reset asks for is capped like a Retry-After: past the
     * cap the service's 429s (and their caps) take over */
    double reset_at = now + ((double)reset < c->max_wait ? (double)reset : c->max_wait);
    /* Answers arrive out of order: within one window (the reset, in whole
     * seconds, within a second and a half of the one known) keep the
     * highest count seen, or a late answer would make the budget look
     * larger than it is. */
    if (c->rl_known && reset_at < c->rl_reset_at + 1.5 && count < c->rl_count)
      return;
    c->rl_allowed = allowed;
    c->rl_count = count;
    c->rl_reset_at = reset_at;
    c->rl_known = 1;
  }
}

static int start_attempt(Driver *d, Transfer *t, double now)
{
  Client *c = t->c;
  CURL *e = t->easy;
  curl_easy_reset(e);
  curl_slist_free_all(t->sent);
  t->sent = NULL;
  for (struct curl_slist *h = c->headers; h; h = h->next)
    t->sent = curl_slist_append(t->sent, h->data);
  for (struct curl_slist *h = t->headers; h; h = h->next)
    t->sent = curl_slist_append(t->sent, h->data);
  t->sent = curl_slist_append(t->sent, "Expect:");
  if (t->token_used)
    memset(t->token_used, 0, strlen(t->token_used));
  free(t->token_used);
  t->token_used = NULL;
  if (t->needs_auth && c->auth) {
    const char *tok = c->auth->ops->bearer(c->auth, now);
    if (tok == NULL)
      return -1;
    size_t n = strlen(tok) + 32;
    char *line = malloc(n);
    if (line == NULL)
      return -1;
    snprintf(line, n, "Authorization: Bearer %s", tok);
    t->sent = curl_slist_append(t->sent, line);
    memset(line, 0, n);
    free(line);
    t->token_used = strdup(tok);
  }
  if (t->sent == NULL)
    return -1;

  drop_body(t);
  t->errbuf[0] = '\0';
  t->status = 0;
  t->nheaders = 0;
  t->header_bytes = 0;
  t->too_many_headers = 0;
  curl_easy_setopt(e, CURLOPT_URL, t->url);
  curl_easy_setopt(e, CURLOPT_PRIVATE, t);
  curl_easy_setopt(e, CURLOPT_SHARE, d->share);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  /* Proxies from the environment (https_proxy...) apply to https only,
   * where the proxy relays TLS it cannot read. Plain http goes only to
   * this machine and never through a proxy, which would see the secret. */
  if (strncmp(t->url, "http://", 7) == 0)
    curl_easy_setopt(e, CURLOPT_PROXY, "");
  else
    curl_easy_setopt(e, CURLOPT_NOPROXY, "localhost,127.0.0.0/8,::1");
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  if (c->cacert)
    curl_easy_setopt(e, CURLOPT_CAINFO, c->cacert);
  if (t->is_token && t->token_for) {
    TokenRequest rq = {0};
    t->token_for->ops->token_request(t->token_for, &rq);
    if (rq.basic_user && rq.basic_password) {
      curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
      curl_easy_setopt(e, CURLOPT_USERNAME, rq.basic_user);
      curl_easy_setopt(e, CURLOPT_PASSWORD, rq.basic_password);
    }
  }
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  /* libcurl silently resends a request whose reused connection died
   * before any answer; for a request that must not run twice, only a
   * fresh connection rules that out */
  if (!t->idempotent)
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  /* an attempt ends by the request's deadline, all attempts included */
  double left = (t->first_start ? t->first_start : now) + c->deadline - now;
  long timeout_ms = c->timeout_ms;
  if (left * 1000 < (double)timeout_ms)
    timeout_ms = left * 1000 < 1 ? 1 : (long)(left * 1000);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
  curl_easy_setopt(e, CURLOPT_PREREQDATA, t);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->sent);
  if (strcmp(t->method, "GET") == 0) {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else if (strcmp(t->method, "HEAD") == 0) {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, t->method);
    if (t->body || strcmp(t->method, "POST") == 0 || strcmp(t->method, "PUT") == 0 ||
        strcmp(t->method, "PATCH") == 0) {
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->body_len);
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body ? t->body : "");
    }
  }
  if (curl_multi_add_handle(d->multi, e) != CURLM_OK)
    return -1;
  t->state = T_RUNNING;
  t->started = now;
  if (t->first_start == 0)
    t->first_start = now;
  t->attempts++;
  attempt_begin(t, now);
  t->sends = 0;
  d->running++;
  t->next = d->active;
  d->active = t;
  c->inflight++;
  c->stat_requests++;
  if (!t->is_token)
    pace_after_send(c, now);
  return 0;
}

enum { UNREACHABLE, MAYBE_SENT, FATAL };

/* UNREACHABLE: no connection, so the request never left (a timeout before
 * the request went on the wire counts: on_prereq never ran). */
static int classify(const Transfer *t, CURLcode rc)
{
  switch (rc) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
    return UNREACHABLE;
  case CURLE_OPERATION_TIMEDOUT:
    return t->sends == 0 ? UNREACHABLE : MAYBE_SENT;
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
    return MAYBE_SENT;
  default:
    return FATAL;
  }
}

/* Why a host could not be reached, in a few words. */
static const char *unreachable_reason(Transfer *t, CURLcode rc)
{
  long err = 0;
  if (rc == CURLE_COULDNT_RESOLVE_HOST)
    return "host name not found";
  if (rc == CURLE_COULDNT_RESOLVE_PROXY)
    return "proxy host name not found";
  if (rc == CURLE_OPERATION_TIMEDOUT)
    return "connection timed out";
  curl_easy_getinfo(t->easy, CURLINFO_OS_ERRNO, &err);
  if (err == ECONNREFUSED)
    return "connection refused";
  if (err == ENETUNREACH || err == EHOSTUNREACH)
    return "no route to host";
  if (err == ETIMEDOUT)
    return "connection timed out";
  return "cannot connect";
}

/* Full jitter below the capped exponential: the one backoff (retry.c). */
static double backoff(Driver *d, Client *c, int attempt)
{
  return gc_backoff(attempt, c->backoff_base, c->backoff_cap, rand01(d));
}

/* Schedule another attempt after `delay` if the caps allow; 0 if not, with
 * the reason left in t->gave_up. `unreachable` names the host that could
 * not be reached ("login host", "service"): such a failure is given up on
 * sooner (a refused connection is not a busy service), and each wait is
 * said at normal verbosity, as is any long wait. */
static int retry_later(Driver *d, Transfer *t, double delay, double now, const char *why,
                       const char *unreachable)
{
  Client *c = t->c;
  char reason[256];
  int max = c->max_attempts;
  if (unreachable && c->max_connect_attempts < max)
    max = c->max_connect_attempts;
  if (t->attempts >= max) {
    snprintf(reason, sizeof reason, "gave up after %d attempts (%s)", t->attempts, why);
  } else if (delay > c->max_wait) {
    snprintf(reason, sizeof reason, "%s asked to wait %.0f s, more than the %.0f s gcrun waits at once",
             why, delay, c->max_wait);
  } else if (t->retried_for + delay > c->max_retry_time) {
    snprintf(reason, sizeof reason, "gave up after %.1f s of retries (%s)", t->retried_for, why);
  } else if (now + delay >= t->first_start + c->deadline) {
    snprintf(reason, sizeof reason, "gave up after %d attempts in %.0f s, the most one request may take (%s)",
             t->attempts, now - t->first_start, why);
  } else {
    t->retried_for += delay;
    t->not_before = now + delay;
    t->state = T_QUEUED;
    c->stat_retries++;
    attempt_wait(t, delay);
    append(&d->queue, t);
    int digits = delay < 10 ? 1 : 0;
    if (unreachable)
      event(d, 1, "%s unreachable (%s); retrying in %.*f s, attempt %d of %d", unreachable, why,
            digits, delay, t->attempts + 1, max);
    else
      event(d, delay >= NOTICE_WAIT ? 1 : 2, "retry: %s %s: %s; attempt %d of %d in %.*f s", t->method,
            t->url, why, t->attempts + 1, max, digits + 1, delay);
    return 1;
  }
  free(t->gave_up);
  t->gave_up = strdup(reason);
  return 0;
}

/* libcurl resends a request by itself when a reused connection closes
 * before any answer (only idempotent ones: the others get a fresh
 * connection). The service saw those requests too, so they count as
 * attempts and retries like ours. */
static void count_resends(Driver *d, Transfer *t)
{
  for (; t->sends > 1; t->sends--) {
    t->attempts++;
    attempt_resent(t);
    t->c->stat_requests++;
    t->c->stat_retries++;
    event(d, 2, "retry: %s %s: the reused connection closed before an answer; libcurl resent the request",
          t->method, t->url);
  }
}

static void finish_attempt(Driver *d, Transfer *t, CURLcode rc, lua_State *L, double now)
{
  Client *c = t->c;
  stop_running(d, t);
  attempt_end(t, rc, now);
  count_resends(d, t);

  if (t->is_token) {
    int cls = rc == CURLE_OK ? -1 : classify(t, rc);
    if (rc == CURLE_OK)
      curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
    if (cls == UNREACHABLE &&
        retry_later(d, t, backoff(d, c, t->attempts), now, unreachable_reason(t, rc), "login host"))
      return;
    if (rc == CURLE_OK && (t->status == 429 || t->status >= 502) &&
        retry_later(d, t, backoff(d, c, t->attempts), now, "login host busy", NULL))
      return;
    if (rc != CURLE_OK) {
      char msg[CURL_ERROR_SIZE + 128];
      if (cls == UNREACHABLE)
        snprintf(msg, sizeof msg, "%s (%d attempt%s in %.0f s)", unreachable_reason(t, rc), t->attempts,
                 t->attempts == 1 ? "" : "s", now - t->first_start);
      else
        snprintf(msg, sizeof msg, "%s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
      t->err_code = cls == UNREACHABLE ? "unreachable" : "transport";
      t->err_msg = strdup(msg);
    }
    Credentials *cr = t->token_for;
    t->in_driver = 0;
    if (cr->refreshing == t)
      cr->refreshing = NULL;
    TokenAnswer a = { t->err_code ? 0 : t->status, t->resp_body.data ? t->resp_body.data : "",
                      t->resp_body.len, t->err_code ? (t->err_msg ? t->err_msg : "transfer failed") : NULL,
                      t->gave_up };
    cr->refreshes++;
    cr->ops->token_done(cr, &a, L, now);
    /* the login host's words may quote the secret, or the Basic header */
    if (cr->failure)
      cr->ops->mask(cr, cr->failure, strlen(cr->failure));
    /* what the requests waiting for this token fail with */
    cr->failure_code = t->err_code && strcmp(t->err_code, "unreachable") == 0 ? "unreachable" : "auth";
    transfer_free(t);
    return;
  }

  if (gc_interrupted() && !t->cleanup) {
    fail(d, t, "interrupted", "%s %s: interrupted", t->method, t->url);
    return;
  }

  if (rc != CURLE_OK) {
    int cls = classify(t, rc);
    const char *msg = t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc);
    if (cls == UNREACHABLE) {
      const char *reason = unreachable_reason(t, rc);
      if (retry_later(d, t, backoff(d, c, t->attempts), now, reason, "service"))
        return;
      fail(d, t, "unreachable", "%s %s: cannot reach the service: %s; %s", t->method, t->url, msg,
           t->gave_up ? t->gave_up : "gave up");
      return;
    }
    int retryable = cls == MAYBE_SENT && t->idempotent;
    if (rc == CURLE_WRITE_ERROR && t->resp_body.len + CURL_MAX_WRITE_SIZE > MAX_BODY)
      msg = "response body larger than 64 MiB";
    if (rc == CURLE_WRITE_ERROR && t->too_many_headers)
      msg = "the answer has more than 256 header lines or 256 KiB of headers";
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) {
      fail(d, t, "tls", "%s %s: %s (TLS is always verified; --cacert FILE trusts another CA)",
           t->method, t->url, msg);
      return;
    }
    if (retryable && retry_later(d, t, backoff(d, c, t->attempts), now, msg, NULL))
      return;
    if (cls == MAYBE_SENT && !t->idempotent)
      fail(d, t, "unknown_outcome", "%s %s: %s (the request may have reached the server)",
           t->method, t->url, msg);
    else if (t->gave_up)
      fail(d, t, "transport", "%s %s: %s; %s", t->method, t->url, msg, t->gave_up);
    else
      fail(d, t, "transport", "%s %s: %s", t->method, t->url, msg);
    return;
  }

  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
  read_ratelimit(t, now);

  if (t->status == 401 && t->needs_auth && c->auth && c->auth->refreshable && !t->auth_retried) {
    t->auth_retried = 1;
    c->auth->ops->invalidate(c->auth, t->token_used);
    t->not_before = now;
    t->state = T_QUEUED;
    append(&d->queue, t);
    event(d, 2, "retry: %s %s: 401, refreshing the token", t->method, t->url);
    return;
  }

  if (t->status == 429 || (t->idempotent && (t->status == 502 || t->status == 503 || t->status == 504))) {
    double delay = parse_retry_after(header_value(t, "Retry-After"), wall_now());
    char why[64];
    snprintf(why, sizeof why, "HTTP %ld", t->status);
    if (t->status == 429) {
      t->n429++;
      c->stat_throttled++;
    }
    if (delay < 0)
      delay = backoff(d, c, t->attempts);
    if (retry_later(d, t, delay, now, why, NULL)) {
      if (t->status == 429 && c->next_send < now + delay)
        c->next_send = now + delay;   /* the whole client is over budget */
      return;
    }
  }
  complete(d, t, now);
}

/* Fail everything that is not cleanup work after a stop signal (SIGINT,
 * SIGTERM, SIGHUP or SIGQUIT, see signal.c): what waits to start, and what
 * is in flight (stopped at once, so a slow answer does not hold up the
 * stop). */
static void interrupt_all(Driver *d)
{
  for (Transfer *t = d->queue, *n; t; t = n) {
    n = t->next;
    if (!t->cleanup && !t->is_token)
      fail(d, t, "interrupted", "%s %s: interrupted", t->method, t->url);
  }
  for (Transfer *t = d->active, *n; t; t = n) {
    n = t->next;
    if (!t->cleanup && !t->is_token) {
      stop_running(d, t);
      fail(d, t, "interrupted", "%s %s: interrupted", t->method, t->url);
    }
  }
}

/* The token request, built from what the credentials describe. */
static Transfer *token_transfer(Client *c, Credentials *cr)
{
  TokenRequest rq = {0};
  cr->ops->token_request(cr, &rq);
  Transfer *t = transfer_new(c, "POST", rq.url);
  if (t == NULL)
    return NULL;
  t->is_token = 1;
  t->idempotent = 1;          /* asking for a token twice is harmless */
  t->token_for = cr;
  cr->refs++;
  t->body = malloc(rq.body_len + 1);
  if (t->body) {
    memcpy(t->body, rq.body ? rq.body : "", rq.body_len);
    t->body[rq.body_len] = '\0';
  }
  t->body_len = rq.body_len;
  char ctype[128];
  snprintf(ctype, sizeof ctype, "Content-Type: %s", rq.content_type ? rq.content_type : "application/json");
  struct curl_slist *accept = curl_slist_append(NULL, "Accept: application/json");
  t->headers = accept ? curl_slist_append(accept, ctype) : NULL;
  if (t->headers == NULL)
    curl_slist_free_all(accept);
  if (t->body == NULL || t->headers == NULL) {
    transfer_release(t);
    return NULL;
  }
  cr->refreshing = t;
  return t;
}

/* Start what may start now; return when the next queued transfer becomes
 * eligible by time (HUGE_VAL when none waits for time). */
static double pump(Driver *d, double now)
{
  double next = HUGE_VAL;
  Transfer *t = d->queue, *n;
  for (; t; t = n) {
    n = t->next;
    Client *c = t->c;
    if (t->not_before > now) {
      if (t->not_before < next) next = t->not_before;
      continue;
    }
    if (c->inflight >= c->concurrency)
      continue;
    if (t->needs_auth && c->auth && c->auth->refreshable && c->auth->ops->bearer(c->auth, now) == NULL) {
      Credentials *cr = c->auth;
      if (cr->failure && cr->failure_at >= t->enqueued) {
        fail(d, t, cr->failure_code ? cr->failure_code : "auth", "%s", cr->failure);
        continue;
      }
      if (cr->refreshing == NULL) {
        Transfer *tok = token_transfer(c, cr);
        if (tok == NULL) {
          fail(d, t, "auth", "cannot build the token request: out of memory");
          continue;
        }
        tok->in_driver = 1;
        if (start_attempt(d, tok, now) != 0) {
          tok->in_driver = 0;
          cr->refreshing = NULL;
          transfer_free(tok);
          fail(d, t, "auth", "cannot start the token request");
        }
      }
      continue;
    }
    if (c->next_send > now && !t->is_token) {
      if (t->held_since == 0) t->held_since = now;
      if (c->next_send < next) next = c->next_send;
      continue;
    }
    unlink_from(&d->queue, t);
    if (start_attempt(d, t, now) != 0) {
      t->state = T_DONE;
      fail(d, t, "transport", "%s %s: cannot start the request (out of memory)", t->method, t->url);
    }
  }
  return next;
}

void driver_wait(Driver *d, lua_State *L, double timeout)
{
  double now = gc_now();
  double deadline = timeout < 0 ? HUGE_VAL : now + timeout;
  for (;;) {
    if (gc_interrupted())
      interrupt_all(d);
    double next = pump(d, now);
    if (d->done || d->events)
      return;                 /* a retry line is said as its wait begins */
    if (d->running == 0 && next == HUGE_VAL && deadline == HUGE_VAL)
      return;                 /* nothing can happen any more */
    double until = next < deadline ? next : deadline;
    double wait = until - now;
    if (wait > POLL_SLICE) wait = POLL_SLICE;
    if (wait < 0) wait = 0;
    int still;
    if (d->running > 0) {
      curl_multi_poll(d->multi, NULL, 0, (int)ceil(wait * 1000), NULL);
      curl_multi_perform(d->multi, &still);
      CURLMsg *m;
      int left;
      while ((m = curl_multi_info_read(d->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
          continue;
        Transfer *t;
        CURLcode rc = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        finish_attempt(d, t, rc, L, gc_now());
      }
      resume_paused(d);
    } else if (wait > 0) {
      struct timespec ts = { (time_t)wait, (long)((wait - floor(wait)) * 1e9) };
      nanosleep(&ts, NULL);
    }
    now = gc_now();
    if (d->done || d->events || now >= deadline)
      return;
  }
}
