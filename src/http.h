/* Internals shared by the HTTP driver, its Lua binding and the OAuth
 * module. Nothing here calls Lua except where a lua_State is passed in,
 * and never from inside a libcurl callback. */
#ifndef GCRUN_HTTP_H
#define GCRUN_HTTP_H

#include <stddef.h>
#include <curl/curl.h>
#include <lua.h>

typedef struct Buf {
  char *data;
  size_t len, cap;
} Buf;

int buf_add(Buf *b, const char *p, size_t n);   /* 0, or -1 out of memory */
void buf_free(Buf *b);

typedef struct Driver Driver;
typedef struct Client Client;
typedef struct Transfer Transfer;
typedef struct Credentials Credentials;

enum { T_QUEUED, T_RUNNING, T_DONE };

/* Credentials as the driver sees them: a small interface, so the driver
 * knows nothing of how a token is obtained (oauth.c implements it; the
 * driver never calls oauth.c and oauth.c never calls the driver). */
typedef struct TokenRequest {
  const char *url;
  const char *body;                 /* may hold the secret: copied, then wiped */
  size_t body_len;
  const char *content_type;
  const char *basic_user, *basic_password;   /* Basic authentication, or NULL */
} TokenRequest;

typedef struct TokenAnswer {
  long status;                      /* 0 when the transfer failed */
  const char *body;
  size_t body_len;
  const char *error;                /* the transport error, or NULL */
  const char *gave_up;              /* why retrying stopped, or NULL */
} TokenAnswer;

typedef struct CredentialsOps {
  /* the bearer token to send now, or NULL when a refresh is due */
  const char *(*bearer)(Credentials *cr, double now);
  /* describe the token request; the pointers live as long as cr */
  void (*token_request)(Credentials *cr, TokenRequest *out);
  /* the token request finished (L only for protected JSON decoding);
   * on failure the implementation sets cr->failure */
  void (*token_done)(Credentials *cr, const TokenAnswer *a, lua_State *L, double now);
  /* a 401 answered a request sent with token_used */
  void (*invalidate)(Credentials *cr, const char *token_used);
  /* overwrite with '*' every secret cr holds (and its Basic form) in text */
  void (*mask)(Credentials *cr, char *text, size_t len);
  void (*free)(Credentials *cr);
} CredentialsOps;

/* One attempt of a transfer, for the run's timeline (attempts.c). */
typedef struct Attempt {
  double start, end;              /* monotonic; end 0: stopped, no answer */
  double held;                    /* seconds the client's pacing held it back */
  double wait;                    /* seconds waited before the next attempt */
  double retry_after;             /* the answer's Retry-After, -1 none */
  long status;                    /* 0: no answer */
  long rl_allowed, rl_count, rl_reset;   /* inin-ratelimit-*, -1 absent */
} Attempt;

struct Credentials {
  const CredentialsOps *ops;
  int refreshable;                  /* 0: a given token, used as is */
  Transfer *refreshing;             /* the token request in flight, if any */
  char *failure;                    /* why the last refresh failed, or NULL */
  const char *failure_code;         /* its error class (set by the driver): auth, unreachable */
  int failure_status;
  double failure_at;
  long refreshes;
  int refs;                         /* the Lua handle and every client and token request */
};

void credentials_release(Credentials *cr);   /* driver.c: drops a reference */

struct Client {
  Driver *d;
  char *base_url;
  struct curl_slist *headers;     /* default request headers */
  long timeout_ms, connect_timeout_ms;
  int max_attempts;
  double max_retry_time;          /* seconds of waiting between attempts, in all */
  double max_wait;                /* the longest single wait honoured */
  double deadline;                /* seconds a request may take, all attempts included */
  int max_connect_attempts;       /* attempts when the host cannot be reached */
  double backoff_base, backoff_cap;
  int concurrency, inflight;
  double rate;                    /* client-side cap, requests a second; 0 none */
  int pace;                       /* follow the inin-ratelimit-* budget */
  double next_send;               /* pacing: earliest start of the next request */
  long rl_allowed, rl_count;      /* last inin-ratelimit-* headers seen */
  double rl_reset_at;
  int rl_known;
  Credentials *auth;              /* NULL: no Authorization header */
  char *cacert;
  long stat_requests, stat_retries, stat_throttled, stat_failures;
  int refs;                       /* the Lua handle and every live transfer */
};

struct Transfer {
  Driver *d;
  Client *c;
  Transfer *next;                 /* in the driver's queue or done list */
  CURL *easy;
  char *method, *url;
  char *body;
  size_t body_len;
  struct curl_slist *headers;     /* the caller's headers */
  struct curl_slist *sent;        /* headers of the attempt in flight */
  int idempotent, cleanup, needs_auth;
  int is_token;                   /* an internal token request */
  Credentials *token_for;         /* a token request: whose */
  int state;
  double enqueued, not_before, started, first_start, finished;
  int attempts, n429, auth_retried;
  int sends;                      /* requests this attempt put on the wire */
  double retried_for;
  char *token_used;
  long status;
  Buf resp_body;
  int nheaders;                   /* header lines of the answer so far */
  size_t header_bytes;
  int too_many_headers, paused;
  char errbuf[CURL_ERROR_SIZE];
  const char *err_code;           /* NULL on success */
  char *err_msg;
  char *gave_up;                  /* why retrying stopped early, if it did */
  int in_driver;                  /* queued, running or in the done list */
  int has_box;                    /* a Lua handle points here */
  Attempt *log;                   /* one per attempt, for the timeline */
  int nlog, caplog;
  double held_since;              /* when pacing began holding it, or 0 */
};

/* An event for the log: a retry being scheduled. */
typedef struct Event {
  struct Event *next;
  char *line;
  int level;                      /* 1: said at normal verbosity, 2: verbose */
} Event;

struct Driver {
  CURLM *multi;
  CURLSH *share;
  Transfer *queue;                /* waiting to start, in arrival order */
  Transfer *active;               /* in libcurl's hands */
  Transfer *done;                 /* finished, not yet handed to Lua */
  Event *events, **events_tail;
  size_t body_bytes;              /* memory holding answers in all transfers */
  size_t body_budget, body_peak;
  Transfer *body_leader;          /* the one transfer that may go over the budget */
  int running;
  unsigned long long rng;
  int refs;                       /* the module and every client */
};

/* driver.c */
Driver *driver_new(void);
void driver_release(Driver *d);
Transfer *transfer_new(Client *c, const char *method, const char *url);
void transfer_release(Transfer *t);     /* drop the Lua handle's claim */
void transfer_drop_body(Transfer *t);   /* the body was handed to Lua: free it */
void driver_enqueue(Driver *d, Transfer *t);
/* Run transfers for at most `timeout` seconds or until one finishes;
 * L is used for protected JSON decoding of token responses only. */
void driver_wait(Driver *d, lua_State *L, double timeout);
Transfer *driver_take_done(Driver *d);    /* the caller then owns it via its box */
Event *driver_take_events(Driver *d);
void client_release(Client *c);

/* attempts.c: the per-attempt record the timeline reads */
void attempt_begin(Transfer *t, double now);
void attempt_resent(Transfer *t);
void attempt_end(Transfer *t, CURLcode rc, double now);
void attempt_wait(Transfer *t, double delay);
void attempts_push(lua_State *L, const Transfer *t);

/* headers.c: pure parsers, fuzzed */
double parse_retry_after(const char *value, double now_wall);  /* seconds, or -1 */
int parse_long_header(const char *value, long *out);           /* 1 if valid */

/* url.c: pure helpers, fuzzed */
int url_is_loopback_http(const char *url);    /* 1 loopback http, 0 https, -1 refused */
char *url_encode(const char *s, size_t len);   /* malloc'd, NULL on no memory */

/* redact.c */
char *redact_body(const char *body, size_t len);   /* malloc'd copy with secrets masked */
char *redact_base64(const char *s, size_t len);    /* malloc'd */
void redact_known(char *text, size_t len, const char *const *secrets);   /* in place, with '*' */
void redact_client(char *text, size_t len, const char *client_id, const char *client_secret);

/* oauth.c */
Credentials *gc_credentials(lua_State *L, int index);   /* NULL if not credentials */

#endif
