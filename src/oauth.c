/* gcrun.oauth: where the connection settings come from (options, then the
 * environment, then ./.env), and the client-credentials token cache the
 * HTTP driver consults before every request. The client secret and the
 * token stay in C memory; Lua only learns whether a token exists. */
#include "config.h"

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
#define ENV_FILE_MAX (64 * 1024)
#define REFRESH_MARGIN 60.0     /* seconds before expiry a token is replaced */

typedef struct { Credentials *cr; } CredBox;

/* Settings gathered from the three sources, with where each came from. */
enum { S_ID, S_SECRET, S_REGION, S_TOKEN, S_BASE, S_COUNT };
typedef struct {
  char *value[S_COUNT];
  const char *source[S_COUNT];
} Settings;

/* Environment names per setting, official CLI/Terraform names first. */
static const char *const env_names[S_COUNT][2] = {
  {"GENESYSCLOUD_OAUTHCLIENT_ID", "GENESYS_CLIENT_ID"},
  {"GENESYSCLOUD_OAUTHCLIENT_SECRET", "GENESYS_CLIENT_SECRET"},
  {"GENESYSCLOUD_REGION", NULL},
  {"GENESYSCLOUD_ACCESS_TOKEN", NULL},
  {"GENESYS_BASE_URL", NULL},
};

static void wipe_free(char *s)
{
  if (s) {
    memset(s, 0, strlen(s));
    free(s);
  }
}

static void settings_free(Settings *s)
{
  for (int i = 0; i < S_COUNT; i++)
    wipe_free(s->value[i]);
}

static void set_once(Settings *s, int which, const char *value, size_t len, const char *source)
{
  if (s->value[which] || value == NULL || len == 0)
    return;
  s->value[which] = strndup(value, len);
  s->source[which] = source;
}

static void from_dotenv(const char *key, size_t klen, const char *value, size_t vlen, void *ud)
{
  Settings *s = ud;
  for (int i = 0; i < S_COUNT; i++)
    for (int j = 0; j < 2; j++)
      if (env_names[i][j] && strlen(env_names[i][j]) == klen && memcmp(env_names[i][j], key, klen) == 0)
        set_once(s, i, value, vlen, ".env");
}

void credentials_release(Credentials *cr)
{
  if (cr == NULL || --cr->refs > 0)
    return;
  wipe_free(cr->client_id);
  wipe_free(cr->client_secret);
  wipe_free(cr->static_token);
  wipe_free(cr->token);
  free(cr->token_url);
  free(cr->token_body);
  free(cr->failure);
  free(cr);
}

int credentials_token_valid(const Credentials *cr, double now)
{
  return cr->token != NULL && now < cr->expires_at;
}

void credentials_invalidate(Credentials *cr, const char *token_used)
{
  if (cr->token && (token_used == NULL || strcmp(cr->token, token_used) == 0)) {
    wipe_free(cr->token);
    cr->token = NULL;
  }
}

Transfer *credentials_token_request(Driver *d, Client *c, Credentials *cr)
{
  (void)d;
  Transfer *t = transfer_new(c, "POST", cr->token_url);
  if (t == NULL)
    return NULL;
  t->is_token = 1;
  t->idempotent = 1;          /* asking for a token twice is harmless */
  t->token_for = cr;
  cr->refs++;
  t->body = strdup(cr->token_body);
  t->body_len = t->body ? strlen(t->body) : 0;
  t->headers = curl_slist_append(NULL, "Accept: application/json");
  t->headers = curl_slist_append(t->headers, cr->tutorial
    ? "Content-Type: application/json" : "Content-Type: application/x-www-form-urlencoded");
  if (t->body == NULL || t->headers == NULL) {
    transfer_release(t);
    return NULL;
  }
  t->basic_auth = !cr->tutorial;
  cr->refreshing = t;
  return t;
}

static void set_failure(Credentials *cr, int status, double now, const char *fmt, ...)
{
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* a login host that echoes what it was sent must not echo the secret */
  if (cr->client_secret && *cr->client_secret)
    for (char *p = strstr(msg, cr->client_secret); p; p = strstr(p, cr->client_secret))
      memset(p, '*', strlen(cr->client_secret));
  free(cr->failure);
  cr->failure = strdup(msg);
  cr->failure_status = status;
  cr->failure_at = now;
}

/* Field `name` of the table on top of the stack, as a string, or def. */
static const char *field(lua_State *L, const char *name, const char *def)
{
  lua_getfield(L, -1, name);
  const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : def;
  lua_pop(L, 1);   /* the string stays alive in the table */
  return s;
}

void credentials_token_done(Credentials *cr, Transfer *t, lua_State *L, double now)
{
  cr->refreshes++;
  if (t->err_code) {
    set_failure(cr, 0, now, "cannot reach the login host %s: %s", cr->token_url,
                t->err_msg ? t->err_msg : "transfer failed");
    return;
  }
  int top = lua_gettop(L);
  lua_getfield(L, LUA_REGISTRYINDEX, "gcrun.http.decode");
  lua_pushlstring(L, t->resp_body.data ? t->resp_body.data : "", t->resp_body.len);
  int decoded = gc_docall(L, 1, 1) == LUA_OK && lua_istable(L, -1);
  if (t->status == 200 && decoded) {
    const char *tok = field(L, "access_token", NULL);
    lua_getfield(L, -1, "expires_in");
    double ttl = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : 86400;
    lua_pop(L, 1);
    if (tok && *tok && ttl > 0 && isfinite(ttl)) {
      wipe_free(cr->token);
      cr->token = strdup(tok);
      double margin = ttl > REFRESH_MARGIN ? REFRESH_MARGIN : ttl / 2;
      cr->expires_at = now + ttl - margin;
      free(cr->failure);
      cr->failure = NULL;
    } else {
      set_failure(cr, 200, now, "the login host %s answered without a usable access_token", cr->token_url);
    }
  } else if (t->status == 400 || t->status == 401 || t->status == 403) {
    const char *code = decoded ? field(L, "error", field(L, "code", "")) : "";
    const char *desc = decoded ? field(L, "error_description", field(L, "message", "")) : "";
    set_failure(cr, (int)t->status, now,
                "authentication failed: the login host refused the client credentials "
                "(HTTP %ld%s%s%s%s)", t->status, *code ? ": " : "", code, *desc ? ": " : "", desc);
  } else {
    set_failure(cr, (int)t->status, now, "token request to %s failed: HTTP %ld%s",
                cr->token_url, t->status, t->gave_up ? " (retries exhausted)" : "");
  }
  lua_settop(L, top);
}

/* ---- Lua side ---- */

static Credentials *check_creds(lua_State *L, int i)
{
  CredBox *b = luaL_checkudata(L, i, CRED_MT);
  if (b->cr == NULL)
    luaL_error(L, "credentials are closed");
  return b->cr;
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
  Credentials *cr = check_creds(L, 1);
  double now = gc_now();
  lua_createtable(L, 0, 5);
  lua_pushboolean(L, cr->static_token != NULL || credentials_token_valid(cr, now));
  lua_setfield(L, -2, "valid");
  if (cr->token) {
    lua_pushnumber(L, cr->expires_at - now);
    lua_setfield(L, -2, "expires_in");
  }
  lua_pushinteger(L, cr->refreshes);
  lua_setfield(L, -2, "refreshes");
  lua_pushboolean(L, cr->static_token != NULL);
  lua_setfield(L, -2, "static");
  if (cr->failure) {
    lua_pushstring(L, cr->failure);
    lua_setfield(L, -2, "failure");
  }
  return 1;
}

static int creds_tostring(lua_State *L)
{
  Credentials *cr = check_creds(L, 1);
  lua_pushfstring(L, "gcrun.oauth.Credentials (%s, secret ***)",
                  cr->static_token ? "access token" : cr->client_id);
  return 1;
}

static const char *opt_string(lua_State *L, int t, const char *name)
{
  lua_getfield(L, t, name);
  const char *s = lua_isstring(L, -1) ? lua_tostring(L, -1) : NULL;
  lua_pop(L, 1);
  return s && *s ? s : NULL;
}

static void read_dotenv(lua_State *L, const char *path, Settings *s, int warnings)
{
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
    return;
  if (st.st_mode & S_IROTH) {
    lua_pushfstring(L, "%s is readable by every user of this machine; it holds a client secret "
                       "(chmod 600 %s)", path, path);
    lua_rawseti(L, warnings, (lua_Integer)lua_rawlen(L, warnings) + 1);
  }
  if (st.st_size > ENV_FILE_MAX) {
    lua_pushfstring(L, "%s is larger than %d bytes and was not read", path, ENV_FILE_MAX);
    lua_rawseti(L, warnings, (lua_Integer)lua_rawlen(L, warnings) + 1);
    return;
  }
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return;
  char *text = malloc((size_t)st.st_size + 1);
  size_t n = text ? fread(text, 1, (size_t)st.st_size, f) : 0;
  fclose(f);
  if (text == NULL)
    return;
  int bad = dotenv_parse(text, n, from_dotenv, s);
  memset(text, 0, n);
  free(text);
  if (bad > 0) {
    lua_pushfstring(L, "%s: %d line(s) are not KEY=VALUE and were ignored", path, bad);
    lua_rawseti(L, warnings, (lua_Integer)lua_rawlen(L, warnings) + 1);
  }
}

/* 0 command line, 1 environment, 2 .env, 3 absent */
static int rank(const char *source)
{
  if (source == NULL) return 3;
  if (source[0] == '-' || strcmp(source, "caller") == 0) return 0;
  return strcmp(source, ".env") == 0 ? 2 : 1;
}

static int raise_config(lua_State *L, Settings *s, const char *code, const char *fmt, const char *arg)
{
  gc_pusherror(L, code, fmt, arg);   /* format first: arg may point into s */
  settings_free(s);
  return lua_error(L);
}

/* The tutorial's token body is JSON; lua-cjson encodes it. */
static char *tutorial_body(lua_State *L, const char *id, const char *secret)
{
  lua_getfield(L, LUA_REGISTRYINDEX, "gcrun.oauth.encode");
  lua_createtable(L, 0, 3);
  lua_pushstring(L, "client_credentials");
  lua_setfield(L, -2, "grant_type");
  lua_pushstring(L, id);
  lua_setfield(L, -2, "client_id");
  lua_pushstring(L, secret);
  lua_setfield(L, -2, "client_secret");
  lua_call(L, 1, 1);
  char *body = strdup(lua_tostring(L, -1));
  lua_pop(L, 1);
  return body;
}

/* resolve{client_id=, client_secret=, region=, base_url=, api=, env_file=}
 *   -> config table, credentials
 * Each setting: the option, else the environment, else the .env file. */
static int oauth_resolve(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  Settings s;
  memset(&s, 0, sizeof s);
  const char *api = opt_string(L, 1, "api");
  int tutorial = api && strcmp(api, "tutorial") == 0;
  const char *o;
  if ((o = opt_string(L, 1, "client_id"))) set_once(&s, S_ID, o, strlen(o), "--client-id");
  if ((o = opt_string(L, 1, "client_secret"))) set_once(&s, S_SECRET, o, strlen(o), "caller");
  if ((o = opt_string(L, 1, "access_token"))) set_once(&s, S_TOKEN, o, strlen(o), "caller");
  if ((o = opt_string(L, 1, "base_url"))) set_once(&s, S_BASE, o, strlen(o), "--base-url");
  else if ((o = opt_string(L, 1, "region"))) set_once(&s, S_REGION, o, strlen(o), "--region");
  for (int i = 0; i < S_COUNT; i++)
    for (int j = 0; j < 2; j++)
      if (env_names[i][j]) {
        const char *v = getenv(env_names[i][j]);
        if (v) set_once(&s, i, v, strlen(v), env_names[i][j]);
      }
  lua_newtable(L);                                   /* warnings */
  int warnings = lua_gettop(L);
  lua_getfield(L, 1, "env_file");
  int skip_env = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
  const char *env_file = lua_isstring(L, -1) ? lua_tostring(L, -1) : ".env";
  lua_pop(L, 1);
  if (!skip_env)
    read_dotenv(L, env_file, &s, warnings);

  /* Where the API is: the strongest source wins (option, environment,
   * .env); between a region and a base URL from the same source, an
   * explicit --base-url wins on the command line, the region elsewhere. */
  char base[1024];
  const char *region_label = NULL;
  int rb = rank(s.source[S_BASE]), rr = rank(s.source[S_REGION]);
  if (s.value[S_BASE] && (rb < rr || (rb == rr && rb == 0))) {
    snprintf(base, sizeof base, "%s", s.value[S_BASE]);
  } else {
    const char *r = s.value[S_REGION] ? s.value[S_REGION] : "us-east-1";
    const char *domain = region_domain(r);
    if (domain == NULL)
      return raise_config(L, &s, "auth", "unknown region '%s' (gcrun --help lists them; or give --base-url)", r);
    snprintf(base, sizeof base, "https://api.%s", domain);
    region_label = s.value[S_REGION] ? s.value[S_REGION] : "us-east-1 (default)";
  }
  size_t blen = strlen(base);
  while (blen > 0 && base[blen - 1] == '/')
    base[--blen] = '\0';
  int scheme = url_is_loopback_http(base);
  if (scheme == -2)
    return raise_config(L, &s, "usage", "the API base URL '%s' is not an http(s) URL", base);
  if (scheme == -1)
    return raise_config(L, &s, "usage",
      "the API base URL '%s' uses plain http; only https is allowed, except to this machine (loopback)", base);

  char login[1024];
  const char *api_host = strstr(base, "//api.");
  if (api_host)
    snprintf(login, sizeof login, "%.*s//login.%s", (int)(api_host - base), base, api_host + 6);
  else
    snprintf(login, sizeof login, "%s", base);
  char token_url[1100];
  snprintf(token_url, sizeof token_url, tutorial ? "%s/api/v2/oauth/token" : "%s/oauth/token",
           tutorial ? base : login);

  if (!s.value[S_TOKEN] && (!s.value[S_ID] || !s.value[S_SECRET])) {
    const char *missing = !s.value[S_ID] && !s.value[S_SECRET] ? "client id and secret"
                        : !s.value[S_ID] ? "client id" : "client secret";
    return raise_config(L, &s, "auth",
      "no %s: set GENESYSCLOUD_OAUTHCLIENT_ID and GENESYSCLOUD_OAUTHCLIENT_SECRET in the "
      "environment or ./.env (or GENESYSCLOUD_ACCESS_TOKEN), or run with --sandbox", missing);
  }

  Credentials *cr = calloc(1, sizeof *cr);
  if (cr == NULL) {
    settings_free(&s);
    return luaL_error(L, "not enough memory");
  }
  cr->refs = 1;
  cr->tutorial = tutorial;
  cr->token_url = strdup(token_url);
  if (s.value[S_TOKEN]) {
    cr->static_token = s.value[S_TOKEN];
    s.value[S_TOKEN] = NULL;
  } else {
    cr->client_id = strdup(s.value[S_ID]);
    cr->client_secret = s.value[S_SECRET];
    s.value[S_SECRET] = NULL;
    cr->token_body = tutorial ? tutorial_body(L, cr->client_id, cr->client_secret)
                              : strdup("grant_type=client_credentials");
  }

  lua_createtable(L, 0, 10);                          /* config */
  lua_pushstring(L, tutorial ? "tutorial" : "platform");
  lua_setfield(L, -2, "api");
  lua_pushstring(L, base);
  lua_setfield(L, -2, "base_url");
  lua_pushstring(L, login);
  lua_setfield(L, -2, "login_url");
  lua_pushstring(L, token_url);
  lua_setfield(L, -2, "token_url");
  if (region_label) {
    lua_pushstring(L, region_label);
    lua_setfield(L, -2, "region");
  }
  if (cr->client_id) {
    lua_pushstring(L, cr->client_id);
    lua_setfield(L, -2, "client_id");
  }
  lua_pushstring(L, cr->static_token ? "access_token" : "client_credentials");
  lua_setfield(L, -2, "grant");
  lua_createtable(L, 0, S_COUNT);
  static const char *const names[S_COUNT] = {"client_id", "client_secret", "region", "access_token", "base_url"};
  for (int i = 0; i < S_COUNT; i++)
    if (s.source[i]) {
      lua_pushstring(L, s.source[i]);
      lua_setfield(L, -2, names[i]);
    }
  lua_setfield(L, -2, "sources");
  lua_pushvalue(L, warnings);
  lua_setfield(L, -2, "warnings");
  settings_free(&s);

  CredBox *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->cr = cr;
  luaL_setmetatable(L, CRED_MT);
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
    lua_pushstring(L, name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, domain);
    lua_setfield(L, -2, "domain");
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
  lua_getglobal(L, "require");
  lua_pushstring(L, "cjson");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "encode");
  lua_setfield(L, LUA_REGISTRYINDEX, "gcrun.oauth.encode");
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  return 1;
}
