/* libFuzzer target: the JSON structure scanner (duplicate keys, empty
 * arrays). It must cope with any bytes, JSON or not. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"

static void dup(const char *parent, size_t plen, const char *key, size_t klen, const char *first,
                size_t flen, int line, int column, void *ud)
{
  const uint8_t *base = ud;
  (void)base; (void)parent; (void)plen; (void)key; (void)klen; (void)first; (void)flen;
  if (line < 1 || column < 1)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  jsonscan_duplicates((const char *)data, size, dup, (void *)data);
  size_t n = jsonscan_count_empty_arrays((const char *)data, size);
  size_t outlen;
  char *out = jsonscan_mark_empty_arrays((const char *)data, size, &outlen);
  if (out != NULL) {
    if (n == 0 && (outlen != size || memcmp(out, data, size) != 0))
      abort();                     /* nothing to mark: the text unchanged */
    free(out);
  }
  return 0;
}
