/* The .env reader: KEY=VALUE lines as dotenv tools write them. Comments
 * (#), blank lines, an optional `export `, single quotes (literal), double
 * quotes (with \n \t \" \\ escapes), unquoted values up to a ` #` comment,
 * and a UTF-8 byte order mark before the first line. */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config_parse.h"

static int is_key_char(char c, int first)
{
  return c == '_' || isalpha((unsigned char)c) || (!first && isdigit((unsigned char)c));
}

/* Decode one value from [p, end) into out; returns 0 if well-formed. */
static int decode_value(const char *p, const char *end, char *out, size_t *outlen)
{
  size_t n = 0;
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  if (p < end && (*p == '"' || *p == '\'')) {
    char q = *p++;
    while (p < end && *p != q) {
      char c = *p++;
      if (q == '"' && c == '\\' && p < end) {
        char e = *p++;
        c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
      }
      out[n++] = c;
    }
    if (p >= end)
      return -1;               /* unterminated quote */
    p++;
    while (p < end && (*p == ' ' || *p == '\t'))
      p++;
    if (p < end && *p != '#')
      return -1;               /* text after the closing quote */
  } else {
    const char *start = p;
    while (p < end && !(*p == '#' && (p == start || p[-1] == ' ' || p[-1] == '\t')))
      out[n++] = *p++;
    while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
      n--;
  }
  out[n] = '\0';
  *outlen = n;
  return 0;
}

int dotenv_parse(const char *text, size_t len, dotenv_cb cb, void *ud, int *first_bad)
{
  int bad = 0, line = 0;
  char *value = malloc(len + 1);
  if (value == NULL)
    return -1;
  if (first_bad)
    *first_bad = 0;
  const char *p = text, *end = text + len;
  /* editors on Windows start UTF-8 files with a byte order mark; read
   * as text it would hide the first key */
  if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
    p += 3;
  while (p < end) {
    line++;
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *line_end = eol ? eol : end;
    const char *q = p;
    if (line_end > q && line_end[-1] == '\r')
      line_end--;
    while (q < line_end && (*q == ' ' || *q == '\t'))
      q++;
    if (q < line_end && *q != '#') {
      if ((size_t)(line_end - q) > 7 && strncmp(q, "export ", 7) == 0)
        q += 7;
      const char *k = q;
      while (q < line_end && is_key_char(*q, q == k))
        q++;
      size_t klen = (size_t)(q - k);
      while (q < line_end && (*q == ' ' || *q == '\t'))
        q++;
      size_t vlen;
      if (klen > 0 && q < line_end && *q == '=' &&
          decode_value(q + 1, line_end, value, &vlen) == 0)
        cb(k, klen, value, vlen, ud);
      else if (bad++ == 0 && first_bad)
        *first_bad = line;
    }
    p = eol ? eol + 1 : end;
  }
  memset(value, 0, len + 1);   /* it may have held a secret */
  free(value);
  return bad;
}
