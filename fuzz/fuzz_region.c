/* libFuzzer target: region resolution. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s = malloc(size + 1);
  if (s == NULL)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  const char *d = region_domain(s);
  if (d != NULL && strchr(d, '.') == NULL)
    abort();
  free(s);
  return 0;
}
