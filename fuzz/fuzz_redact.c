/* libFuzzer target: masking secrets in traced bodies. A value after
 * client_secret= must never come through, nor a known secret. */
#define _GNU_SOURCE   /* memmem */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *r = redact_body((const char *)data, size);
  if (r == NULL)
    return 0;
  /* a form field "client_secret=X" at the start is always masked */
  if (size > 15 && memcmp(data, "client_secret=", 14) == 0 && isalnum(data[14]) &&
      memcmp(r, "client_secret=***", 17) != 0)
    abort();
  free(r);
  /* a known secret (the first 4..16 bytes, up to a NUL) never survives
   * redact_known, unless it holds the '*' it is masked with */
  size_t n = 0;
  while (n < size && n < 16 && data[n] != 0)
    n++;
  if (n >= 4 && n < size && memchr(data, '*', n) == NULL) {
    char secret[17];
    memcpy(secret, data, n);
    secret[n] = '\0';
    size_t len = size - n;
    char *text = malloc(len);
    if (text == NULL)
      return 0;
    memcpy(text, data + n, len);
    const char *list[] = {secret, NULL};
    redact_known(text, len, list);
    if (memmem(text, len, secret, n) != NULL)
      abort();
    free(text);
  }
  return 0;
}
