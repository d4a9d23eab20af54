/* The profiles file (~/.config/gcrun/profiles): one INI section per org,
 *
 *   [prod-eu]
 *   region = eu-west-1              # or base_url = https://api.example
 *   client_id = 0b4c...
 *   client_secret_env = PROD_EU_SECRET     # or client_secret_file = PATH
 *
 * Pure: the caller reads the file, checks its mode and fetches the secret
 * from where the profile says. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_parse.h"

const char *const profile_keys[PROF_COUNT] = {
  "region", "base_url", "client_id", "client_secret", "client_secret_env", "client_secret_file"
};

void profile_clear(Profile *p)
{
  for (int i = 0; i < PROF_COUNT; i++)
    if (p->value[i]) {
      memset(p->value[i], 0, strlen(p->value[i]));
      free(p->value[i]);
      p->value[i] = NULL;
    }
}

static const char *skip_blank(const char *p, const char *end)
{
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  return p;
}

static const char *trim_end(const char *start, const char *end)
{
  while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
    end--;
  return end;
}

static int bad(Profile *p, int line, const char *why)
{
  p->bad_line = line;
  snprintf(p->error, sizeof p->error, "%s", why);
  profile_clear(p);
  p->found = 0;
  return -1;
}

int profile_parse(const char *text, size_t len, const char *name, Profile *p)
{
  memset(p, 0, sizeof *p);
  const char *s = text, *end = text + len;
  if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
    s += 3;
  int line = 0, inside = 0;
  while (s < end) {
    line++;
    const char *eol = memchr(s, '\n', (size_t)(end - s));
    const char *le = eol ? eol : end;
    if (le > s && le[-1] == '\r')
      le--;
    const char *q = skip_blank(s, le);
    s = eol ? eol + 1 : end;
    if (memchr(q, '\0', (size_t)(le - q)))
      return bad(p, line, "a NUL byte");
    if (q == le || *q == '#' || *q == ';')
      continue;
    if (*q == '[') {
      const char *close = memchr(q, ']', (size_t)(le - q));
      if (close == NULL || skip_blank(close + 1, le) != le)
        return bad(p, line, "a section header is [NAME]");
      const char *n0 = skip_blank(q + 1, close), *n1 = trim_end(n0, close);
      inside = strlen(name) == (size_t)(n1 - n0) && memcmp(name, n0, (size_t)(n1 - n0)) == 0;
      if (inside)
        p->found = 1;
      continue;
    }
    const char *k0 = q;
    while (q < le && (isalnum((unsigned char)*q) || *q == '_'))
      q++;
    const char *k1 = q;
    q = skip_blank(q, le);
    if (k1 == k0 || q == le || *q != '=')
      return bad(p, line, "not `key = value`");
    const char *v0 = skip_blank(q + 1, le), *v1 = le;
    /* a comment starts at " #"; values are taken literally otherwise */
    for (const char *c = v0; c < le; c++)
      if (*c == '#' && (c == v0 || c[-1] == ' ' || c[-1] == '\t')) {
        v1 = c;
        break;
      }
    v1 = trim_end(v0, v1);
    int key = -1;
    for (int i = 0; i < PROF_COUNT; i++)
      if (strlen(profile_keys[i]) == (size_t)(k1 - k0) && memcmp(profile_keys[i], k0, (size_t)(k1 - k0)) == 0)
        key = i;
    if (key < 0)
      return bad(p, line, "unknown key (known: region, base_url, client_id, client_secret_env, "
                 "client_secret_file, client_secret)");
    if (!inside)
      continue;
    if (p->value[key])
      return bad(p, line, "the key is given twice in this profile");
    p->value[key] = strndup(v0, (size_t)(v1 - v0));
    if (p->value[key] == NULL)
      return bad(p, line, "not enough memory");
  }
  return 0;
}
