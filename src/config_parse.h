/* Pure parsers for connection configuration: the .env reader and region
 * resolution. No Lua, no I/O, so they can be fuzzed alone. */
#ifndef GCRUN_CONFIG_PARSE_H
#define GCRUN_CONFIG_PARSE_H

#include <stddef.h>

/* Called for each KEY=VALUE assignment; value is decoded and
 * NUL-terminated, valid only during the call. */
typedef void (*dotenv_cb)(const char *key, size_t keylen, const char *value, size_t vlen, void *ud);

/* Returns the number of lines that were not valid assignments, or -1 when
 * out of memory. */
int dotenv_parse(const char *text, size_t len, dotenv_cb cb, void *ud);

/* The domain of a region given by name (us-east-1, us_east_1) or by domain
 * (mypurecloud.ie, api.mypurecloud.ie, https://api.mypurecloud.ie/), or
 * NULL when it is not a region the SDKs know. */
const char *region_domain(const char *input);

/* The i-th known region name and domain; NULL past the end. */
const char *region_name_at(int i, const char **domain);

#endif
