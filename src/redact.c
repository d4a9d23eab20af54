/* Masking secrets in bodies shown by traces: the values of client_secret,
 * access_token, refresh_token and password, in JSON ("key": "value") and in
 * form encoding (key=value). Works on any bytes, valid JSON or not. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "http.h"

static const char *const secret_keys[] = {
  "client_secret", "access_token", "refresh_token", "password", NULL
};

static size_t key_at(const char *p, size_t left)
{
  for (int i = 0; secret_keys[i]; i++) {
    size_t n = strlen(secret_keys[i]);
    if (left >= n && memcmp(p, secret_keys[i], n) == 0)
      return n;
  }
  return 0;
}

char *redact_body(const char *body, size_t len)
{
  Buf out = {0};
  size_t i = 0;
  while (i < len) {
    int quoted = body[i] == '"';
    size_t k = key_at(body + i + quoted, len - i - quoted);
    size_t j = i + quoted + k;
    if (k == 0 || (quoted && (j >= len || body[j] != '"')) ||
        (!quoted && i > 0 && body[i - 1] != '&' && body[i - 1] != '?')) {
      if (buf_add(&out, body + i, 1) != 0)
        goto oom;
      i++;
      continue;
    }
    if (quoted) {
      j++;                                   /* closing quote of the key */
      size_t v = j;
      while (v < len && (body[v] == ' ' || body[v] == '\t' || body[v] == '\n' || body[v] == '\r'))
        v++;
      if (v >= len || body[v] != ':') {
        if (buf_add(&out, body + i, j - i) != 0) goto oom;
        i = j;
        continue;
      }
      v++;
      while (v < len && (body[v] == ' ' || body[v] == '\t' || body[v] == '\n' || body[v] == '\r'))
        v++;
      if (buf_add(&out, body + i, v - i) != 0) goto oom;
      if (v < len && body[v] == '"') {       /* a string: skip it, escapes included */
        size_t e = v + 1;
        while (e < len && body[e] != '"')
          e += body[e] == '\\' ? 2 : 1;
        if (buf_add(&out, "\"***\"", 5) != 0) goto oom;
        i = e < len ? e + 1 : len;
      } else {                               /* a bare value up to , } or space */
        size_t e = v;
        while (e < len && body[e] != ',' && body[e] != '}' && body[e] != ' ' && body[e] != '\n')
          e++;
        if (buf_add(&out, "***", 3) != 0) goto oom;
        i = e;
      }
    } else if (j < len && body[j] == '=') {  /* form field */
      size_t e = j + 1;
      while (e < len && body[e] != '&')
        e++;
      if (buf_add(&out, body + i, j + 1 - i) != 0 || buf_add(&out, "***", 3) != 0)
        goto oom;
      i = e;
    } else {
      if (buf_add(&out, body + i, 1) != 0) goto oom;
      i++;
    }
  }
  if (out.data == NULL && buf_add(&out, "", 0) != 0)
    goto oom;
  return out.data;
oom:
  buf_free(&out);
  return NULL;
}
