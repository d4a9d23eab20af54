/* libFuzzer target: the .env reader. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config_parse.h"

static void seen(const char *key, size_t klen, const char *value, size_t vlen, void *ud)
{
  (void)ud;
  if (klen == 0 || strlen(value) > vlen || value[vlen] != '\0')   /* NUL-terminated at vlen */
    abort();
  (void)key;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  int first_bad = 0;
  int bad = dotenv_parse((const char *)data, size, seen, NULL, &first_bad);
  if ((bad > 0) != (first_bad > 0))
    abort();
  return 0;
}
