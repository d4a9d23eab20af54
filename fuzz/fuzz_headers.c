/* libFuzzer target: the Retry-After and inin-ratelimit-* header parsers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s = malloc(size + 1);
  if (s == NULL)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  double d = parse_retry_after(s, 1700000000.0);
  if (!(d == -1 || (d >= 0 && d <= 1e9)))
    abort();                       /* the contract: -1, or a wait in [0, 1e9] */
  long v;
  if (parse_long_header(s, &v) && v < 0)
    abort();
  free(s);
  return 0;
}
