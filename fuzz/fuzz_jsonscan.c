/* libFuzzer target: the JSON structure scanner (duplicate keys, empty
 * arrays). It must cope with any bytes, JSON or not. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"

typedef struct {
  const uint8_t *data;
  size_t size;
  unsigned sum;
} Seen;

/* Every byte handed over is read (so ASan sees a stale arena pointer);
 * decoded keys are never longer than the text, and the first value lies
 * inside it. */
static void dup(const char *parent, size_t plen, const char *key, size_t klen, const char *first,
                size_t flen, int line, int column, void *ud)
{
  Seen *s = ud;
  if (line < 1 || column < 1 || klen > s->size || plen > s->size)
    abort();
  if (flen > 0 && ((const uint8_t *)first < s->data || (const uint8_t *)first + flen > s->data + s->size))
    abort();
  for (size_t i = 0; i < plen; i++) s->sum += (unsigned char)parent[i];
  for (size_t i = 0; i < klen; i++) s->sum += (unsigned char)key[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  Seen seen = {data, size, 0};
  int found = jsonscan_duplicates((const char *)data, size, dup, &seen);
  if (found > (int)size)
    abort();                       /* one report per repeated key at most */
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
