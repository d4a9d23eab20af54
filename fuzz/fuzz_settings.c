/* libFuzzer target: settings resolution and the profiles file. The input
 * is split at the first two NUL bytes into a .env text, a fake
 * environment (NAME=VALUE lines) and a profiles file; the first byte's
 * bits pick the token request's shape and which caller values are given. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config_parse.h"

typedef struct { const char *text; size_t len; char buf[256]; } FakeEnv;

static const char *fake_getenv(const char *name, void *ud)
{
  FakeEnv *e = ud;
  size_t n = strlen(name);
  const char *p = e->text, *end = e->text + e->len;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *le = eol ? eol : end;
    if ((size_t)(le - p) > n && memcmp(p, name, n) == 0 && p[n] == '=') {
      size_t vl = (size_t)(le - p) - n - 1;
      if (vl >= sizeof e->buf) vl = sizeof e->buf - 1;
      memcpy(e->buf, p + n + 1, vl);
      e->buf[vl] = '\0';
      return e->buf;
    }
    p = eol ? eol + 1 : end;
  }
  return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  unsigned flags = data[0];
  const char *p = (const char *)data + 1, *end = (const char *)data + size;
  const char *z1 = memchr(p, '\0', (size_t)(end - p));
  const char *envtext = z1 ? z1 + 1 : end;
  const char *z2 = z1 ? memchr(envtext, '\0', (size_t)(end - envtext)) : NULL;
  const char *proftext = z2 ? z2 + 1 : end;
  FakeEnv env = { envtext, (size_t)((z2 ? z2 : end) - envtext), {0} };

  SettingsIn in;
  memset(&in, 0, sizeof in);
  in.env = fake_getenv;
  in.env_ud = &env;
  in.dotenv = p;
  in.dotenv_len = (size_t)((z1 ? z1 : end) - p);
  in.dotenv_name = ".env";
  in.token_on_api_host = flags & 1;
  if (flags & 2) { in.value[SET_REGION] = "eu-west-1"; in.len[SET_REGION] = 9; in.source[SET_REGION] = "--region"; }
  if (flags & 4) { in.value[SET_SECRET] = "s\0x"; in.len[SET_SECRET] = 3; in.source[SET_SECRET] = "caller"; }
  SettingsOut out;
  int rc = settings_resolve(&in, &out);
  if (rc == 0) {
    if (strncmp(out.base_url, "http", 4) != 0 || strstr(out.token_url, "/oauth/token") == NULL)
      abort();
    if (out.value[SET_TOKEN] && !token_chars_valid(out.value[SET_TOKEN], out.len[SET_TOKEN]))
      abort();
    for (int i = 0; i < SET_COUNT; i++)
      if (out.value[i] && memchr(out.value[i], '\0', out.len[i]))
        abort();                       /* a value with a NUL is never accepted */
  } else if (out.error_code == NULL || out.error[0] == '\0') {
    abort();
  }
  settings_clear(&out);

  Profile prof;
  if (profile_parse(proftext, (size_t)(end - proftext), "prod", &prof) != 0 && prof.bad_line < 1)
    abort();
  profile_clear(&prof);
  return 0;
}
