/* libFuzzer target: the .env reader. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config_parse.h"

static void seen(const char *key, size_t klen, const char *value, size_t vlen, void *ud)
{
  (void)ud;
  if (klen == 0 || strlen(value) > vlen)   /* NUL-terminated at vlen at most */
    abort();
  (void)key;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  dotenv_parse((const char *)data, size, seen, NULL);
  return 0;
}
