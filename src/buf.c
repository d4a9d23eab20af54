/* A growable byte buffer, for bodies collected by libcurl and
 * libmicrohttpd callbacks (which must not call Lua). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "http.h"

int buf_add(Buf *b, const char *p, size_t n)
{
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *q = realloc(b->data, cap);
    if (q == NULL)
      return -1;
    b->data = q;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

void buf_free(Buf *b)
{
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
