/* The JSON structure scanner (jsonscan.c): pure functions, fuzzed alone. */
#ifndef GCRUN_JSONSCAN_H
#define GCRUN_JSONSCAN_H

#include <stddef.h>

/* first/flen: the raw text of the first occurrence's value when it is a
 * scalar (number, string, true, false, null), else flen is 0. */
typedef void (*jsonscan_dup_cb)(const char *parent, size_t plen, const char *key, size_t klen,
                                const char *first, size_t flen, int line, int column, void *ud);

/* Report each key repeated within one object, once, at its first repeat.
 * Keys are compared as the decoder sees them, escapes decoded ("\u006eame"
 * is "name"); parent and key are passed decoded. Time n log n in the text.
 * Returns how many, -1 when out of memory, -2 when nested too deep. */
int jsonscan_duplicates(const char *text, size_t len, jsonscan_dup_cb cb, void *ud);

size_t jsonscan_count_empty_arrays(const char *text, size_t len);

/* A malloc'd copy with each empty array [] replaced by [sentinel]. */
char *jsonscan_mark_empty_arrays(const char *text, size_t len, size_t *outlen);

extern const char jsonscan_sentinel[];

#endif
