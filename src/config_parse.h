/* Pure parsers and the settings resolution for connection configuration:
 * the .env reader, the profiles file, region names, and which source the
 * target and the credentials come from. No Lua and no I/O, so they can be
 * fuzzed alone (fuzz/fuzz_dotenv.c, fuzz_region.c, fuzz_settings.c). */
#ifndef GCRUN_CONFIG_PARSE_H
#define GCRUN_CONFIG_PARSE_H

#include <stddef.h>

/* Called for each KEY=VALUE assignment; value is decoded and
 * NUL-terminated, valid only during the call (it may hold a NUL byte of
 * its own: vlen is its length). */
typedef void (*dotenv_cb)(const char *key, size_t keylen, const char *value, size_t vlen, void *ud);

/* Returns the number of lines that were not valid assignments (the first
 * one's number in *first_bad, 1-based), or -1 when out of memory. A UTF-8
 * byte order mark at the start is skipped. */
int dotenv_parse(const char *text, size_t len, dotenv_cb cb, void *ud, int *first_bad);

/* The domain of a region given by name (us-east-1, us_east_1) or by domain
 * (mypurecloud.ie, api.mypurecloud.ie, https://api.mypurecloud.ie/), or
 * NULL when it is not a region the SDKs know. */
const char *region_domain(const char *input);

/* The i-th known region name and domain; NULL past the end. */
const char *region_name_at(int i, const char **domain);

/* ---- settings resolution (settings.c) ---- */

enum { SET_ID, SET_SECRET, SET_REGION, SET_TOKEN, SET_BASE, SET_COUNT };

/* Where the environment is read from: getenv, or a fake one when fuzzed. */
typedef const char *(*env_lookup)(const char *name, void *ud);

typedef struct {
  /* what the caller gives (command line, a profile): strongest */
  const char *value[SET_COUNT];
  size_t len[SET_COUNT];
  const char *source[SET_COUNT];
  env_lookup env;                 /* NULL: the environment is not consulted */
  void *env_ud;
  const char *dotenv;             /* the .env text, or NULL */
  size_t dotenv_len;
  const char *dotenv_name;        /* its path, for messages */
  /* the token request's shape, from the dialect (Lua) */
  const char *token_path;         /* default /oauth/token */
  int token_on_api_host;          /* 1: on the API host; 0: on the login host */
} SettingsIn;

typedef struct {
  char *value[SET_COUNT];         /* malloc'd, wiped when cleared */
  size_t len[SET_COUNT];
  const char *source[SET_COUNT];  /* static text, an env name, or the input's */
  char base_url[1024], login_url[1024], token_url[1100];
  char region[64];                /* empty when a base URL was used */
  int region_default;             /* no region given: us-east-1 */
  const char *error_code;         /* on failure: "usage", "input" or "auth" */
  char error[1024];
} SettingsOut;

/* 0 and out filled, or -1 with out->error_code and out->error (which
 * never hold a secret). Call settings_clear afterwards either way. */
int settings_resolve(const SettingsIn *in, SettingsOut *out);
void settings_clear(SettingsOut *out);

/* 1 if s is a bearer token by RFC 6750's b64token rule: letters, digits,
 * - . _ ~ + / then optional '=' padding. Anything else (CR, LF, space,
 * NUL) could inject a header. */
int token_chars_valid(const char *s, size_t len);

/* ---- the profiles file (profile.c) ---- */

enum { PROF_REGION, PROF_BASE, PROF_ID, PROF_SECRET, PROF_SECRET_ENV, PROF_SECRET_FILE, PROF_COUNT };

typedef struct {
  char *value[PROF_COUNT];        /* malloc'd; NULL when absent */
  int found;                      /* the section exists */
  int bad_line;                   /* the first line that could not be read, or 0 */
  char error[256];
} Profile;

/* Read section [name] of an INI-style profiles file. 0 when read (see
 * p->found), -1 on a line that could not be read (p->bad_line, p->error)
 * or no memory. */
int profile_parse(const char *text, size_t len, const char *name, Profile *p);
void profile_clear(Profile *p);
extern const char *const profile_keys[PROF_COUNT];

#endif
