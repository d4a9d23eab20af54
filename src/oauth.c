/* gcrun.oauth: the Lua face of the connection settings (resolved by the
 * pure settings.c, read here from the environment, ./.env or a named
 * profile) and the client-credentials token cache, which the HTTP driver
 * reaches only through the CredentialsOps interface of http.h. The client
 * secret and the token stay in C memory; Lua only learns whether a token
 * exists. The token request's shape (where, and how the secret is sent)
 * comes from the caller: C knows no dialect. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config_parse.h"
#include "host.h"
#include "http.h"

#define CRED_MT "gcrun.oauth.Credentials"
#define FILE_MAX (64 * 1024)
#define REFRESH_MARGIN 60.0     /* seconds before expiry a token is replaced */
#define TOKEN_MIN_REUSE 1.0     /* a token is used this long, whatever its expires_in */

/* The token cache behind the driver's Credentials interface. */
typedef struct {
  Credentials base;        /* first: the driver holds &base */
  char *client_id;
  char *client_secret;
  char *static_token;      /* a given access token: used as is, never refreshed */
  char *token_url;
  char *token_body;        /* the token request's body (may hold the secret) */
  size_t token_body_len;
  const char *content_type;
  int basic;               /* send the client id and secret as Basic */
  char *token;             /* current bearer token, or NULL */
  double expires_at;       /* monotonic time the token stops being used */
} OAuth;

typedef struct { Credentials *cr; } CredBox;

static void wipe_free(char *s)
{
  if (s) {
    memset(s, 0, strlen(s));
    free(s);
  }
}

static void oauth_free(Credentials *c)
{
  OAuth *o = (OAuth *)c;
  wipe_free(o->client_id);
  wipe_free(o->client_secret);
  wipe_free(o->static_token);
  wipe_free(o->token);
  free(o->token_url);
  if (o->token_body)
    memset(o->token_body, 0, o->token_body_len);
  free(o->token_body);
  free(o);
}

static const char *oauth_bearer(Credentials *c, double now)
{
  OAuth *o = (OAuth *)c;
  if (o->static_token)
    return o->static_token;
  return o->token && now < o->expires_at ? o->token : NULL;
}

static void oauth_invalidate(Credentials *c, const char *token_used)
{
  OAuth *o = (OAuth *)c;
  if (o->token && (token_used == NULL || strcmp(o->token, token_used) == 0)) {
    wipe_free(o->token);
    o->token = NULL;
  }
}

static void oauth_token_request(Credentials *c, TokenRequest *rq)
{
  OAuth *o = (OAuth *)c;
  rq->url = o->token_url;
  rq->body = o->token_body;
  rq->body_len = o->token_body_len;
  rq->content_type = o->content_type;
  rq->basic_user = o->basic ? o->client_id : NULL;
  rq->basic_password = o->basic ? o->client_secret : NULL;
}

static void set_failure(OAuth *o, int status, double now, const char *fmt, ...)
{
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* a login host that echoes what it was sent must not echo the secret */
  if (o->client_secret && *o->client_secret)
    for (char *p = strstr(msg, o->client_secret); p; p = strstr(p, o->client_secret))
      memset(p, '*', strlen(o->client_secret));
  free(o->base.failure);
  o->base.failure = strdup(msg);
  o->base.failure_status = status;
  o->base.failure_at = now;
}

/* Field `name` of the table on top of the stack, as a string, or def. */
static const char *field(lua_State *L, const char *name, const char *def, size_t *len)
{
  lua_getfield(L, -1, name);
  const char *s = def;
  if (lua_type(L, -1) == LUA_TSTRING)
    s = lua_tolstring(L, -1, len);
  else if (len)
    *len = def ? strlen(def) : 0;
  lua_pop(L, 1);   /* the string stays alive in the table */
  return s;
}

static void oauth_token_done(Credentials *c, const TokenAnswer *a, lua_State *L, double now)
{
  OAuth *o = (OAuth *)c;
  if (a->error) {
    set_failure(o, 0, now, "cannot reach the login host %s: %s", o->token_url, a->error);
    return;
  }
  int top = lua_gettop(L);
  lua_getfield(L, LUA_REGISTRYINDEX, "gcrun.oauth.decode");
  lua_pushlstring(L, a->body, a->body_len);
  int decoded = gc_docall(L, 1, 1) == LUA_OK && lua_istable(L, -1);
  if (a->status == 200 && decoded) {
    size_t toklen = 0;
    const char *tok = field(L, "access_token", NULL, &toklen);
    lua_getfield(L, -1, "expires_in");
    double ttl = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : 86400;
    lua_pop(L, 1);
    if (tok && *tok && !token_chars_valid(tok, toklen)) {
      /* CR/LF here would add headers to every request sent with it */
      set_failure(o, 200, now, "the login host %s answered with an access_token that has characters no "
                  "access token has (only letters, digits and - . _ ~ + / =); refused", o->token_url);
    } else if (tok && *tok && ttl > 0 && isfinite(ttl)) {
      wipe_free(o->token);
      o->token = strdup(tok);
      double margin = ttl > REFRESH_MARGIN ? REFRESH_MARGIN : ttl / 2;
      o->expires_at = now + ttl - margin;
      /* an expires_in of 1e-9 must not make every request ask for a token */
      if (o->expires_at < now + TOKEN_MIN_REUSE)
        o->expires_at = now + TOKEN_MIN_REUSE;
      free(o->base.failure);
      o->base.failure = NULL;
    } else {
      set_failure(o, 200, now, "the login host %s answered without a usable access_token", o->token_url);
    }
  } else if (a->status == 400 || a->status == 401 || a->status == 403) {
    const char *code = decoded ? field(L, "error", field(L, "code", "", NULL), NULL) : "";
    const char *desc = decoded ? field(L, "error_description", field(L, "message", "", NULL), NULL) : "";
    set_failure(o, (int)a->status, now,
                "authentication failed: the login host refused the client credentials "
                "(HTTP %ld%s%s%s%s)", a->status, *code ? ": " : "", code, *desc ? ": " : "", desc);
  } else {
    set_failure(o, (int)a->status, now, "token request to %s failed: HTTP %ld%s",
                o->token_url, a->status, a->gave_up ? " (retries exhausted)" : "");
  }
  lua_settop(L, top);
}

/* Every secret held here, wherever an answer or a login host's words
 * quote it: the client secret, base64(id:secret), the tokens. */
static void oauth_mask(Credentials *c, char *text, size_t len)
{
  OAuth *o = (OAuth *)c;
  redact_client(text, len, o->client_id, o->client_secret);
  const char *tokens[] = { o->token ? o->token : "", o->static_token ? o->static_token : "", NULL };
  redact_known(text, len, tokens);
}

static const CredentialsOps oauth_ops = {
  oauth_bearer, oauth_token_request, oauth_token_done, oauth_invalidate, oauth_mask, oauth_free
};

/* ---- Lua side ---- */

static OAuth *check_creds(lua_State *L, int i)
{
  CredBox *b = luaL_checkudata(L, i, CRED_MT);
  if (b->cr == NULL)
    luaL_error(L, "credentials are closed");
  return (OAuth *)b->cr;
}

Credentials *gc_credentials(lua_State *L, int i)
{
  CredBox *b = luaL_testudata(L, i, CRED_MT);
  return b ? b->cr : NULL;
}

static int creds_gc(lua_State *L)
{
  CredBox *b = luaL_checkudata(L, 1, CRED_MT);
  credentials_release(b->cr);
  b->cr = NULL;
  return 0;
}

/* state() -> {valid=, expires_in=, refreshes=, static=, failure=} (never the token) */
static int creds_state(lua_State *L)
{
  OAuth *o = check_creds(L, 1);
  double now = gc_now();
  lua_createtable(L, 0, 5);
  lua_pushboolean(L, oauth_bearer(&o->base, now) != NULL);
  lua_setfield(L, -2, "valid");
  if (o->token) {
    lua_pushnumber(L, o->expires_at - now);
    lua_setfield(L, -2, "expires_in");
  }
  lua_pushinteger(L, o->base.refreshes);
  lua_setfield(L, -2, "refreshes");
  lua_pushboolean(L, o->static_token != NULL);
  lua_setfield(L, -2, "static");
  if (o->base.failure) {
    lua_pushstring(L, o->base.failure);
    lua_setfield(L, -2, "failure");
  }
  return 1;
}

static int creds_tostring(lua_State *L)
{
  OAuth *o = check_creds(L, 1);
  lua_pushfstring(L, "gcrun.oauth.Credentials (%s, secret ***)",
                  o->static_token ? "access token" : o->client_id);
  return 1;
}

static const char *opt_lstring(lua_State *L, int t, const char *name, size_t *len)
{
  lua_getfield(L, t, name);
  const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, len) : NULL;
  lua_pop(L, 1);   /* the string stays alive in the options table */
  return s && *len ? s : NULL;
}

static void warn(lua_State *L, int warnings, const char *msg)
{
  lua_pushstring(L, msg);
  lua_rawseti(L, warnings, (lua_Integer)lua_rawlen(L, warnings) + 1);
}

/* Read a small file into a malloc'd buffer; NULL (with errno) if absent
 * or unreadable, *too_big when over FILE_MAX. */
static char *read_small(const char *path, size_t *len, struct stat *st, int *too_big)
{
  *too_big = 0;
  if (stat(path, st) != 0)
    return NULL;
  if (!S_ISREG(st->st_mode)) {
    errno = EISDIR;
    return NULL;
  }
  if (st->st_size > FILE_MAX) {
    *too_big = 1;
    return NULL;
  }
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  char *text = malloc((size_t)st->st_size + 1);
  size_t n = text ? fread(text, 1, (size_t)st->st_size, f) : 0;
  fclose(f);
  if (text == NULL)
    return NULL;
  text[n] = '\0';
  *len = n;
  return text;
}

static void wipe_buf(char *p, size_t n)
{
  if (p) {
    memset(p, 0, n);
    free(p);
  }
}

static const char *real_getenv(const char *name, void *ud)
{
  (void)ud;
  return getenv(name);
}

/* Everything a resolve holds that must be wiped, whichever way it ends. */
typedef struct {
  SettingsOut out;
  Profile prof;
  char *dotenv, *profile_text, *secret_file;
  size_t dotenv_len, profile_len, secret_len;
  char profile_source[160];
} Resolve;

static void resolve_clear(Resolve *r)
{
  settings_clear(&r->out);
  profile_clear(&r->prof);
  wipe_buf(r->dotenv, r->dotenv_len);
  wipe_buf(r->profile_text, r->profile_len);
  wipe_buf(r->secret_file, r->secret_len);
  memset(r, 0, sizeof *r);
}

static int raise_config(lua_State *L, Resolve *r, const char *code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);        /* format first: arguments may point into r */
  va_end(ap);
  resolve_clear(r);
  gc_pusherror(L, code, "%s", lua_tostring(L, -1));
  return lua_error(L);
}

/* The profiles file: $XDG_CONFIG_HOME/gcrun/profiles, else ~/.config/... */
static const char *profiles_path(lua_State *L)
{
  lua_getfield(L, 1, "profiles_file");
  if (lua_isstring(L, -1))
    return lua_tostring(L, -1);       /* stays on the stack */
  lua_pop(L, 1);
  const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
  if (xdg && *xdg)
    return lua_pushfstring(L, "%s/gcrun/profiles", xdg);
  return lua_pushfstring(L, "%s/.config/gcrun/profiles", home ? home : "");
}

/* Fill `in` from profile NAME: its region or base URL, client id, and the
 * secret from an environment variable, a file only the user can read, or
 * the profile itself when the profiles file is only the user's. */
static int from_profile(lua_State *L, Resolve *r, SettingsIn *in, const char *name)
{
  const char *path = profiles_path(L);
  struct stat st;
  int too_big;
  r->profile_text = read_small(path, &r->profile_len, &st, &too_big);
  if (r->profile_text == NULL)
    return raise_config(L, r, "usage", "--profile %s: cannot read the profiles file %s: %s", name, path,
                 too_big ? "larger than 64 KiB" : strerror(errno));
  if (profile_parse(r->profile_text, r->profile_len, name, &r->prof) != 0)
    return raise_config(L, r, "input", "%s:%d: %s", path, r->prof.bad_line, r->prof.error);
  if (!r->prof.found)
    return raise_config(L, r, "usage", "--profile %s: no [%s] section in %s", name, name, path);
  Profile *p = &r->prof;
  snprintf(r->profile_source, sizeof r->profile_source, "profile %s", name);
  int secrets = !!p->value[PROF_SECRET] + !!p->value[PROF_SECRET_ENV] + !!p->value[PROF_SECRET_FILE];
  if (secrets > 1)
    return raise_config(L, r, "input", "%s [%s]: give one of client_secret_env, client_secret_file, client_secret",
                 path, name);
  if (p->value[PROF_REGION] && p->value[PROF_BASE])
    return raise_config(L, r, "input", "%s [%s]: give region or base_url, not both", path, name);
  const char *secret = NULL;
  size_t secret_len = 0;
  if (p->value[PROF_SECRET]) {
    if (st.st_mode & (S_IRWXG | S_IRWXO))
      return raise_config(L, r, "input", "%s [%s] holds a client secret, but others can read the file: chmod 600 %s "
                   "(or use client_secret_env / client_secret_file)", path, name, path);
    secret = p->value[PROF_SECRET];
    secret_len = strlen(secret);
  } else if (p->value[PROF_SECRET_ENV]) {
    secret = getenv(p->value[PROF_SECRET_ENV]);
    if (secret == NULL || *secret == '\0')
      return raise_config(L, r, "auth", "profile %s takes its client secret from the environment variable %s, "
                   "which is not set", name, p->value[PROF_SECRET_ENV]);
    secret_len = strlen(secret);
  } else if (p->value[PROF_SECRET_FILE]) {
    const char *sf = p->value[PROF_SECRET_FILE], *home = getenv("HOME");
    if (strncmp(sf, "~/", 2) == 0 && home)
      sf = lua_pushfstring(L, "%s%s", home, sf + 1);   /* stays on the stack */
    struct stat sst;
    r->secret_file = read_small(sf, &r->secret_len, &sst, &too_big);
    if (r->secret_file == NULL)
      return raise_config(L, r, "auth", "profile %s: cannot read the client secret file %s: %s", name, sf,
                   too_big ? "larger than 64 KiB" : strerror(errno));
    if (sst.st_mode & (S_IRWXG | S_IRWXO))
      return raise_config(L, r, "auth", "profile %s: the client secret file %s can be read by others: chmod 600 %s",
                   name, sf, sf);
    while (r->secret_len > 0 && (r->secret_file[r->secret_len - 1] == '\n' ||
                                 r->secret_file[r->secret_len - 1] == '\r'))
      r->secret_file[--r->secret_len] = '\0';
    secret = r->secret_file;
    secret_len = r->secret_len;
  }
  static const int map[][2] = {{PROF_REGION, SET_REGION}, {PROF_BASE, SET_BASE}, {PROF_ID, SET_ID}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (p->value[map[i][0]]) {
      in->value[map[i][1]] = p->value[map[i][0]];
      in->len[map[i][1]] = strlen(p->value[map[i][0]]);
      in->source[map[i][1]] = r->profile_source;
    }
  in->value[SET_SECRET] = secret;
  in->len[SET_SECRET] = secret_len;
  in->source[SET_SECRET] = r->profile_source;
  return 0;
}

/* A .env that exists but cannot be read in full is an error: what it
 * says (the region, say) must not be replaced by defaults. */
static void read_dotenv(lua_State *L, Resolve *r, const char *path, int warnings, SettingsIn *in)
{
  struct stat st;
  int too_big;
  r->dotenv = read_small(path, &r->dotenv_len, &st, &too_big);
  if (r->dotenv == NULL && (too_big || errno != ENOENT))
    raise_config(L, r, "input", "%s: cannot read it (%s)", path,
                 too_big ? "larger than 64 KiB" : strerror(errno));
  if (r->dotenv == NULL)
    return;
  if (st.st_mode & S_IROTH)
    warn(L, warnings, lua_pushfstring(L, "%s is readable by every user of this machine; it holds a client "
                                         "secret (chmod 600 %s)", path, path));
  in->dotenv = r->dotenv;
  in->dotenv_len = r->dotenv_len;
  in->dotenv_name = path;
}

/* The token request's shape: token = {path=, host="login"|"api",
 * client_auth="basic"|"json"}; by default Genesys Cloud's OAuth
 * (POST login host /oauth/token, Basic, form body). */
static int token_shape(lua_State *L, SettingsIn *in, int *json)
{
  *json = 0;
  in->token_path = "/oauth/token";
  in->token_on_api_host = 0;
  lua_getfield(L, 1, "token");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  luaL_argcheck(L, lua_istable(L, -1), 1, "token must be a table {path=, host=, client_auth=}");
  lua_getfield(L, -1, "path");
  if (lua_isstring(L, -1)) in->token_path = lua_tostring(L, -1);
  lua_getfield(L, -2, "host");
  const char *host = luaL_optstring(L, -1, "login");
  lua_getfield(L, -3, "client_auth");
  const char *auth = luaL_optstring(L, -1, "basic");
  if (strcmp(host, "api") != 0 && strcmp(host, "login") != 0)
    return luaL_error(L, "token.host must be \"login\" or \"api\"");
  if (strcmp(auth, "basic") != 0 && strcmp(auth, "json") != 0)
    return luaL_error(L, "token.client_auth must be \"basic\" or \"json\"");
  in->token_on_api_host = strcmp(host, "api") == 0;
  *json = strcmp(auth, "json") == 0;
  lua_pop(L, 2);           /* path and the token table stay: in->token_path points there */
  return 0;
}

/* client_auth "json": the client id and secret in a JSON body, encoded by
 * lua-cjson (protected: a failure must not leave the secret behind). */
static char *json_body(lua_State *L, const char *id, const char *secret, size_t *len)
{
  lua_getfield(L, LUA_REGISTRYINDEX, "gcrun.oauth.encode");
  lua_createtable(L, 0, 3);
  lua_pushstring(L, "client_credentials");
  lua_setfield(L, -2, "grant_type");
  lua_pushstring(L, id);
  lua_setfield(L, -2, "client_id");
  lua_pushstring(L, secret);
  lua_setfield(L, -2, "client_secret");
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    lua_pop(L, 1);
    return NULL;
  }
  size_t n;
  const char *s = lua_tolstring(L, -1, &n);
  char *body = s ? malloc(n + 1) : NULL;
  if (body) {
    memcpy(body, s, n + 1);
    *len = n;
  }
  lua_pop(L, 1);
  return body;
}

static void set_string(lua_State *L, const char *k, const char *v)
{
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

/* resolve{client_id=, client_secret=, access_token=, region=, base_url=,
 *         profile=, profiles_file=, env_file=, token={path=, host=, client_auth=}}
 *   -> config table, credentials
 * Each setting: the option, else the environment, else the .env file; or
 * with `profile`, everything from that profile alone. */
static int oauth_resolve(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  static const char *const known[] = {"client_id", "client_secret", "access_token", "region", "base_url",
                                      "profile", "profiles_file", "env_file", "token", NULL};
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    lua_pop(L, 1);
    int ok = 0;
    for (int i = 0; known[i] && lua_type(L, -1) == LUA_TSTRING; i++)
      ok |= strcmp(known[i], lua_tostring(L, -1)) == 0;
    if (!ok)   /* e.g. the former `api`: the token's shape is `token` now */
      return luaL_error(L, "gcrun.oauth.resolve: unknown option '%s'", luaL_tolstring(L, -1, NULL));
  }
  Resolve r;
  memset(&r, 0, sizeof r);
  SettingsIn in;
  memset(&in, 0, sizeof in);
  int json = 0;
  token_shape(L, &in, &json);
  lua_newtable(L);                                   /* warnings */
  int warnings = lua_gettop(L);

  static const struct { const char *opt, *source; int which; } opts[] = {
    {"client_id", "--client-id", SET_ID}, {"client_secret", "caller", SET_SECRET},
    {"access_token", "caller", SET_TOKEN}, {"base_url", "--base-url", SET_BASE},
    {"region", "--region", SET_REGION},
  };
  size_t plen = 0;
  const char *profile = opt_lstring(L, 1, "profile", &plen);
  for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
    size_t len = 0;
    const char *v = opt_lstring(L, 1, opts[i].opt, &len);
    if (v && profile && strcmp(opts[i].opt, "client_secret") != 0)
      return raise_config(L, &r, "usage", "--profile %s gives the target and the client; it cannot be combined "
                   "with %s", profile, opts[i].source);
    if (v) {
      in.value[opts[i].which] = v;
      in.len[opts[i].which] = len;
      in.source[opts[i].which] = opts[i].source;
    }
  }
  if (profile) {
    from_profile(L, &r, &in, profile);
  } else {
    in.env = real_getenv;
    lua_getfield(L, 1, "env_file");
    int skip_env = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
    const char *env_file = lua_isstring(L, -1) ? lua_tostring(L, -1) : ".env";
    if (!skip_env)
      read_dotenv(L, &r, env_file, warnings, &in);
  }

  if (settings_resolve(&in, &r.out) != 0)
    return raise_config(L, &r, r.out.error_code, "%s", r.out.error);
  SettingsOut *s = &r.out;

  OAuth *o = calloc(1, sizeof *o);
  if (o == NULL)
    return raise_config(L, &r, "auth", "not enough memory");
  o->base.ops = &oauth_ops;
  o->base.refs = 1;
  /* the box first, so a failure below frees o through __gc */
  CredBox *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->cr = &o->base;
  luaL_setmetatable(L, CRED_MT);
  int box = lua_gettop(L);
  o->token_url = strdup(s->token_url);
  if (s->value[SET_TOKEN]) {
    o->static_token = s->value[SET_TOKEN];
    s->value[SET_TOKEN] = NULL;
  } else {
    o->base.refreshable = 1;
    o->client_id = strdup(s->value[SET_ID]);
    o->client_secret = s->value[SET_SECRET];
    s->value[SET_SECRET] = NULL;
    o->basic = !json;
    o->content_type = json ? "application/json" : "application/x-www-form-urlencoded";
    if (json) {
      o->token_body = o->client_id ? json_body(L, o->client_id, o->client_secret, &o->token_body_len) : NULL;
    } else {
      o->token_body = strdup("grant_type=client_credentials");
      o->token_body_len = o->token_body ? strlen(o->token_body) : 0;
    }
    if (o->client_id == NULL || o->token_body == NULL)
      return raise_config(L, &r, "auth", "not enough memory");
  }
  if (o->token_url == NULL)
    return raise_config(L, &r, "auth", "not enough memory");

  lua_createtable(L, 0, 10);                          /* config */
  set_string(L, "base_url", s->base_url);
  set_string(L, "login_url", s->login_url);
  set_string(L, "token_url", s->token_url);
  if (s->region[0]) {
    lua_pushfstring(L, "%s%s", s->region, s->region_default ? " (default)" : "");
    lua_setfield(L, -2, "region");
  }
  if (profile)
    set_string(L, "profile", profile);
  if (o->client_id)
    set_string(L, "client_id", o->client_id);
  set_string(L, "grant", o->static_token ? "access_token" : "client_credentials");
  lua_createtable(L, 0, SET_COUNT);
  static const char *const names[SET_COUNT] = {"client_id", "client_secret", "region", "access_token", "base_url"};
  for (int i = 0; i < SET_COUNT; i++)
    if (s->source[i])
      set_string(L, names[i], s->source[i]);
  lua_setfield(L, -2, "sources");
  lua_pushvalue(L, warnings);
  lua_setfield(L, -2, "warnings");
  resolve_clear(&r);
  lua_pushvalue(L, box);
  return 2;
}

/* regions() -> { {name=, domain=}, ... } */
static int oauth_regions(lua_State *L)
{
  lua_newtable(L);
  const char *domain;
  const char *name;
  for (int i = 0; (name = region_name_at(i, &domain)) != NULL; i++) {
    lua_createtable(L, 0, 2);
    set_string(L, "name", name);
    set_string(L, "domain", domain);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* region_domain(s) -> domain | nil */
static int oauth_region_domain(lua_State *L)
{
  const char *d = region_domain(luaL_checkstring(L, 1));
  if (d) lua_pushstring(L, d); else lua_pushnil(L);
  return 1;
}

int luaopen_gcrun_oauth(lua_State *L)
{
  static const luaL_Reg methods[] = {
    {"state", creds_state},
    {NULL, NULL}
  };
  static const luaL_Reg funcs[] = {
    {"resolve", oauth_resolve},
    {"regions", oauth_regions},
    {"region_domain", oauth_region_domain},
    {NULL, NULL}
  };
  gc_newclass(L, CRED_MT, methods, creds_gc);
  luaL_getmetatable(L, CRED_MT);
  lua_pushcfunction(L, creds_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  /* lua-cjson: encode the JSON token body, decode token answers (the
   * driver hands them over outside any libcurl callback) */
  lua_getglobal(L, "require");
  lua_pushstring(L, "cjson.safe");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "encode");
  lua_setfield(L, LUA_REGISTRYINDEX, "gcrun.oauth.encode");
  lua_getfield(L, -1, "decode");
  lua_setfield(L, LUA_REGISTRYINDEX, "gcrun.oauth.decode");
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  return 1;
}
