/* Settings resolution: which org gcrun talks to and with which
 * credentials, from the caller's values (command line or a profile), the
 * environment, then ./.env. Pure (no Lua, no I/O) so it can be fuzzed.
 *
 * The target and the credentials must not be stitched together from
 * sources of different trust: a .env in the working directory that names
 * the host while the secret comes from the environment would send that
 * secret wherever the file says, so that combination is refused. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_parse.h"
#include "http.h"

/* Environment names per setting, official CLI/Terraform names first. */
static const char *const env_names[SET_COUNT][2] = {
  {"GENESYSCLOUD_OAUTHCLIENT_ID", "GENESYS_CLIENT_ID"},
  {"GENESYSCLOUD_OAUTHCLIENT_SECRET", "GENESYS_CLIENT_SECRET"},
  {"GENESYSCLOUD_REGION", NULL},
  {"GENESYSCLOUD_ACCESS_TOKEN", NULL},
  {"GENESYS_BASE_URL", NULL},
};

static const char *const labels[SET_COUNT] = {
  "client id", "client secret", "region", "access token", "base URL"
};

#define FROM_DOTENV ".env"

static void wipe_free(char *s, size_t len)
{
  if (s) {
    memset(s, 0, len);
    free(s);
  }
}

void settings_clear(SettingsOut *out)
{
  for (int i = 0; i < SET_COUNT; i++) {
    wipe_free(out->value[i], out->len[i]);
    out->value[i] = NULL;
  }
}

/* Keep the first source's value; the copy keeps any NUL byte, so a secret
 * holding one is refused later instead of silently cut short. */
static int set_once(SettingsOut *o, int which, const char *value, size_t len, const char *source)
{
  if (o->value[which] || value == NULL || len == 0)
    return 0;
  char *copy = malloc(len + 1);
  if (copy == NULL)
    return -1;
  memcpy(copy, value, len);
  copy[len] = '\0';
  o->value[which] = copy;
  o->len[which] = len;
  o->source[which] = source;
  return 0;
}

typedef struct { SettingsOut *o; int oom; } DotenvCtx;

static void from_dotenv(const char *key, size_t klen, const char *value, size_t vlen, void *ud)
{
  DotenvCtx *ctx = ud;
  for (int i = 0; i < SET_COUNT; i++)
    for (int j = 0; j < 2; j++)
      if (env_names[i][j] && strlen(env_names[i][j]) == klen && memcmp(env_names[i][j], key, klen) == 0 &&
          set_once(ctx->o, i, value, vlen, FROM_DOTENV) != 0)
        ctx->oom = 1;
}

static int fail(SettingsOut *o, const char *code, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static int fail(SettingsOut *o, const char *code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(o->error, sizeof o->error, fmt, ap);
  va_end(ap);
  o->error_code = code;
  return -1;
}

/* "the environment (NAME)", "./.env", "--region", "profile x" */
static const char *where(const SettingsOut *o, int which, char *buf, size_t n)
{
  const char *s = o->source[which];
  if (s == NULL)
    return "nowhere";
  if (strcmp(s, FROM_DOTENV) == 0)
    return s;
  for (int i = 0; i < SET_COUNT; i++)
    for (int j = 0; j < 2; j++)
      if (env_names[i][j] && strcmp(env_names[i][j], s) == 0) {
        snprintf(buf, n, "the environment (%s)", s);
        return buf;
      }
  return s;
}

static int is_token_char(char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         (c != '\0' && strchr("-._~+/", c) != NULL);
}

int token_chars_valid(const char *s, size_t len)
{
  size_t i = 0;
  while (i < len && is_token_char(s[i]))
    i++;
  if (i == 0)
    return 0;
  while (i < len && s[i] == '=')
    i++;
  return i == len;
}

static void region_list(char *buf, size_t n)
{
  size_t used = 0;
  const char *name;
  buf[0] = '\0';
  for (int i = 0; (name = region_name_at(i, NULL)) != NULL && used < n; i++)
    used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "", name);
}

static int is_credential(int which)
{
  return which == SET_ID || which == SET_SECRET || which == SET_TOKEN;
}

/* What a base URL may not carry: userinfo (a password would be printed on
 * the target line and in reports), a query or a fragment (request paths
 * are appended to the base: "...:18100?x=1/oauth/token"). */
static const char *base_url_extra(const char *url)
{
  const char *p = strstr(url, "://");
  p = p ? p + 3 : url;
  size_t authority = strcspn(p, "/?#");
  if (memchr(p, '@', authority))
    return "userinfo";
  if (strpbrk(p, "?#"))
    return "query";
  return NULL;
}

int settings_resolve(const SettingsIn *in, SettingsOut *o)
{
  memset(o, 0, sizeof *o);
  char w1[96], w2[96];

  for (int i = 0; i < SET_COUNT; i++)
    if (set_once(o, i, in->value[i], in->len[i], in->source[i]) != 0)
      return fail(o, "auth", "not enough memory");
  if (in->env)
    for (int i = 0; i < SET_COUNT; i++)
      for (int j = 0; j < 2; j++)
        if (env_names[i][j]) {
          const char *v = in->env(env_names[i][j], in->env_ud);
          if (v && set_once(o, i, v, strlen(v), env_names[i][j]) != 0)
            return fail(o, "auth", "not enough memory");
        }
  if (in->dotenv) {
    DotenvCtx ctx = { o, 0 };
    int first_bad = 0;
    int bad = dotenv_parse(in->dotenv, in->dotenv_len, from_dotenv, &ctx, &first_bad);
    if (bad < 0 || ctx.oom)
      return fail(o, "auth", "not enough memory");
    /* a line that cannot be read may be the one naming the region:
     * going on would quietly talk to the default region */
    if (bad > 0)
      return fail(o, "input", "%s:%d: this line is not KEY=VALUE and cannot be read (%d such line%s); "
                  "fix it or comment it out with #", in->dotenv_name ? in->dotenv_name : ".env", first_bad,
                  bad, bad == 1 ? "" : "s");
  }
  for (int i = 0; i < SET_COUNT; i++)
    if (o->value[i] && memchr(o->value[i], '\0', o->len[i]))
      return fail(o, i == SET_SECRET || i == SET_TOKEN ? "auth" : "input",
                  "the %s from %s contains a NUL byte; it would be cut short there, so it is refused",
                  labels[i], where(o, i, w1, sizeof w1));

  /* Where the API is: the strongest source wins (caller, environment,
   * .env); between a region and a base URL from the same source, the
   * caller's base URL wins, the region elsewhere. */
  int use_base = 0;
  if (o->value[SET_BASE]) {
    const char *sb = o->source[SET_BASE], *sr = o->source[SET_REGION];
    int rb = strcmp(sb, FROM_DOTENV) == 0 ? 2 : (in->value[SET_BASE] ? 0 : 1);
    int rr = sr == NULL ? 3 : strcmp(sr, FROM_DOTENV) == 0 ? 2 : (in->value[SET_REGION] ? 0 : 1);
    use_base = rb < rr || (rb == rr && rb == 0);
  }
  int target = use_base ? SET_BASE : SET_REGION;

  /* One source for target and credentials where .env chose the target. */
  if (o->source[target] && strcmp(o->source[target], FROM_DOTENV) == 0)
    for (int i = 0; i < SET_COUNT; i++)
      if (is_credential(i) && o->value[i] && strcmp(o->source[i], FROM_DOTENV) != 0)
        return fail(o, "usage",
                    "%s sets the %s, but the %s comes from %s: gcrun will not send credentials from one "
                    "place to a host that another chose. Put the credentials in %s too, or give the "
                    "target where the credentials come from (--region, --base-url, GENESYSCLOUD_REGION)",
                    in->dotenv_name ? in->dotenv_name : ".env", labels[target], labels[i],
                    where(o, i, w2, sizeof w2), in->dotenv_name ? in->dotenv_name : ".env");

  if (use_base) {
    snprintf(o->base_url, sizeof o->base_url, "%s", o->value[SET_BASE]);
  } else {
    const char *r = o->value[SET_REGION] ? o->value[SET_REGION] : "us-east-1";
    const char *domain = region_domain(r);
    if (domain == NULL) {
      char known[512];
      region_list(known, sizeof known);
      return fail(o, "usage", "unknown region '%.64s' from %s; known regions: %s (or give --base-url)",
                  r, where(o, SET_REGION, w1, sizeof w1), known);
    }
    snprintf(o->base_url, sizeof o->base_url, "https://api.%s", domain);
    snprintf(o->region, sizeof o->region, "%s", r);
    o->region_default = o->value[SET_REGION] == NULL;
  }
  size_t blen = strlen(o->base_url);
  while (blen > 0 && o->base_url[blen - 1] == '/')
    o->base_url[--blen] = '\0';
  /* checked before any message quotes the URL: a password stays unprinted */
  const char *extra = base_url_extra(o->base_url);
  if (extra && strcmp(extra, "userinfo") == 0)
    return fail(o, "usage", "the API base URL from %s has a user name or password in it (user@host): refused, "
                "so it is never printed or sent; credentials go in the client id and secret settings "
                "(GENESYSCLOUD_OAUTHCLIENT_ID, GENESYSCLOUD_OAUTHCLIENT_SECRET)", where(o, SET_BASE, w1, sizeof w1));
  if (extra)
    return fail(o, "usage", "the API base URL '%.200s' has a query or fragment (? or #); give the scheme, host "
                "and port (and a path prefix) only: request paths are appended to it", o->base_url);
  int scheme = url_is_loopback_http(o->base_url);
  if (scheme == -2)
    return fail(o, "usage", "the API base URL '%.200s' is not an http(s) URL", o->base_url);
  if (scheme == -1)
    return fail(o, "usage", "the API base URL '%.200s' uses plain http; only https is allowed, except to "
                "this machine (loopback)", o->base_url);

  const char *api_host = strstr(o->base_url, "//api.");
  if (api_host)
    snprintf(o->login_url, sizeof o->login_url, "%.*s//login.%s", (int)(api_host - o->base_url),
             o->base_url, api_host + 6);
  else
    snprintf(o->login_url, sizeof o->login_url, "%s", o->base_url);
  snprintf(o->token_url, sizeof o->token_url, "%s%s", in->token_on_api_host ? o->base_url : o->login_url,
           in->token_path ? in->token_path : "/oauth/token");

  if (o->value[SET_TOKEN]) {
    if (!token_chars_valid(o->value[SET_TOKEN], o->len[SET_TOKEN]))
      return fail(o, "auth", "the access token from %s has characters no access token has (only letters, "
                  "digits and - . _ ~ + / =): refused, so it cannot add headers to requests",
                  where(o, SET_TOKEN, w1, sizeof w1));
  } else if (!o->value[SET_ID] || !o->value[SET_SECRET]) {
    const char *missing = !o->value[SET_ID] && !o->value[SET_SECRET] ? "client id and secret"
                        : !o->value[SET_ID] ? "client id" : "client secret";
    return fail(o, "auth", "no %s: set GENESYSCLOUD_OAUTHCLIENT_ID and GENESYSCLOUD_OAUTHCLIENT_SECRET in the "
                "environment or ./.env (or GENESYSCLOUD_ACCESS_TOKEN), use --profile, or run with --sandbox",
                missing);
  }
  return 0;
}
