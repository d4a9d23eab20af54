/* libFuzzer target: percent-encoding and the loopback rule for http. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *e = url_encode((const char *)data, size);
  if (e != NULL) {
    for (char *p = e; *p; p++)     /* only unreserved characters and escapes */
      if (!(isalnum((unsigned char)*p) || strchr("-._~%", *p)))
        abort();
    free(e);
  }
  char *s = malloc(size + 1);
  if (s == NULL)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  int r = url_is_loopback_http(s);
  if (r < -2 || r > 1)
    abort();
  free(s);
  return 0;
}
