/* Masking secrets in text shown by traces: the values of client_secret,
 * access_token, refresh_token, password and authorization, whether they
 * stand in JSON ("key": "value"), in JSON embedded in a JSON string
 * (\"key\":\"value\"), or in form encoding (key=value); and every
 * credential after "Bearer " or "Basic ". Works on any bytes. */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

static const char *const secret_keys[] = {
  "client_secret", "access_token", "refresh_token", "password", "authorization", NULL
};

static const char *const schemes[] = { "Bearer ", "Basic ", NULL };

static size_t match_word(const char *p, size_t left, const char *const *words)
{
  for (int i = 0; words[i]; i++) {
    size_t n = strlen(words[i]);
    if (left >= n && strncasecmp(p, words[i], n) == 0)
      return n;
  }
  return 0;
}

static int is_token_char(char c)
{
  return isalnum((unsigned char)c) || strchr("-._~+/=", c) != NULL;
}

static size_t skip_ws(const char *s, size_t i, size_t len)
{
  while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
    i++;
  return i;
}

/* If a secret key starts at i (after a quote, \", & or ?), return the
 * offset where its value starts and set *quote to the value's quoting:
 * 2 for \", 1 for ", 0 for none; 0 when there is no key here. */
static size_t secret_value_at(const char *s, size_t i, size_t len, int *quote, int *form)
{
  int esc = i >= 2 && s[i - 1] == '"' && s[i - 2] == '\\';
  int q = !esc && i >= 1 && s[i - 1] == '"';
  int f = i == 0 || s[i - 1] == '&' || s[i - 1] == '?';
  if (!esc && !q && !f)
    return 0;
  size_t k = match_word(s + i, len - i, secret_keys);
  if (k == 0)
    return 0;
  size_t j = i + k;
  if (esc) {
    if (j + 1 >= len || s[j] != '\\' || s[j + 1] != '"') return 0;
    j += 2;
  } else if (q) {
    if (j >= len || s[j] != '"') return 0;
    j++;
  }
  j = skip_ws(s, j, len);
  if (j >= len || (s[j] != ':' && s[j] != '='))
    return 0;
  *form = s[j] == '=';
  j = skip_ws(s, j + 1, len);
  if (j + 1 < len && s[j] == '\\' && s[j + 1] == '"') { *quote = 2; return j + 2; }
  if (j < len && s[j] == '"') { *quote = 1; return j + 1; }
  *quote = 0;
  return j;
}

/* End of a value that starts at v. */
static size_t value_end(const char *s, size_t v, size_t len, int quote, int form)
{
  size_t e = v;
  if (quote == 2) {
    while (e + 1 < len && !(s[e] == '\\' && s[e + 1] == '"'))
      e += (s[e] == '\\' && s[e + 1] == '\\') ? 2 : 1;
    return e < len ? e : len;
  }
  if (quote == 1) {
    while (e < len && s[e] != '"')
      e += s[e] == '\\' ? 2 : 1;
    return e < len ? e : len;
  }
  while (e < len && s[e] != '&' && s[e] != ',' && s[e] != '}' && s[e] != ' ' && s[e] != '\n' &&
         (form || s[e] != '"'))
    e++;
  return e;
}

char *redact_body(const char *body, size_t len)
{
  Buf out = {0};
  size_t i = 0, copied = 0;
  while (i < len) {
    int quote, form;
    size_t v = secret_value_at(body, i, len, &quote, &form);
    size_t scheme = v ? 0 : match_word(body + i, len - i, schemes);
    if (v) {
      size_t e = value_end(body, v, len, quote, form);
      if (buf_add(&out, body + copied, v - copied) != 0 || buf_add(&out, "***", 3) != 0)
        goto oom;
      copied = i = e;
    } else if (scheme && i + scheme < len && is_token_char(body[i + scheme])) {
      size_t e = i + scheme;
      while (e < len && is_token_char(body[e]))
        e++;
      if (buf_add(&out, body + copied, i + scheme - copied) != 0 || buf_add(&out, "***", 3) != 0)
        goto oom;
      copied = i = e;
    } else {
      i++;
    }
  }
  if (buf_add(&out, body + copied, len - copied) != 0)
    goto oom;
  return out.data;
oom:
  buf_free(&out);
  return NULL;
}

/* base64 (RFC 4648, padded) of s: malloc'd, NULL on no memory. */
char *redact_base64(const char *s, size_t len)
{
  static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
  if (out == NULL)
    return NULL;
  for (size_t i = 0; i < len; i += 3) {
    unsigned v = (unsigned char)s[i] << 16;
    if (i + 1 < len) v |= (unsigned char)s[i + 1] << 8;
    if (i + 2 < len) v |= (unsigned char)s[i + 2];
    *o++ = abc[(v >> 18) & 63];
    *o++ = abc[(v >> 12) & 63];
    *o++ = i + 1 < len ? abc[(v >> 6) & 63] : '=';
    *o++ = i + 2 < len ? abc[v & 63] : '=';
  }
  *o = '\0';
  return out;
}

/* Overwrite with '*' every occurrence in text of each of the NULL-ended
 * secrets (the same length, so JSON around them stays JSON). For values
 * gcrun knows: a service that echoes them back never gets them printed.
 * Secrets shorter than 4 bytes are left alone (they would mask at random). */
void redact_known(char *text, size_t len, const char *const *secrets)
{
  for (; *secrets; secrets++) {
    size_t n = strlen(*secrets);
    if (n < 4)
      continue;
    char *p = text;
    size_t left = len;
    char *hit;
    while (left >= n && (hit = memmem(p, left, *secrets, n)) != NULL) {
      memset(hit, '*', n);
      left -= (size_t)(hit + n - p);
      p = hit + n;
    }
  }
}

/* The same for a client's secret and for base64(id:secret), the form the
 * Basic header carries it in (a login host may quote that header). */
void redact_client(char *text, size_t len, const char *client_id, const char *client_secret)
{
  if (client_secret == NULL || *client_secret == '\0')
    return;
  size_t il = client_id ? strlen(client_id) : 0, sl = strlen(client_secret);
  char *pair = malloc(il + sl + 2), *basic = NULL;
  if (pair) {
    memcpy(pair, client_id ? client_id : "", il);
    pair[il] = ':';
    memcpy(pair + il + 1, client_secret, sl + 1);
    basic = redact_base64(pair, il + sl + 1);
    memset(pair, 0, il + sl + 1);
    free(pair);
  }
  const char *list[] = { client_secret, basic, NULL };
  redact_known(text, len, list);
  if (basic) {
    memset(basic, 0, strlen(basic));
    free(basic);
  }
}
