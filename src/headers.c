/* Parsers for the response headers the driver acts on. Pure functions of
 * their input (and the clock passed in), so they can be fuzzed alone. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "http.h"

#define RETRY_AFTER_MAX 1e9   /* beyond this a wait is absurd; callers cap far lower */

static const char *skip_space(const char *s)
{
  while (*s == ' ' || *s == '\t')
    s++;
  return s;
}

static int only_space(const char *s)
{
  return *skip_space(s) == '\0';
}

/* Retry-After: delay-seconds or an HTTP-date (RFC 9110 10.2.3). Returns the
 * wait in seconds, 0 for a date in the past, -1 when absent or invalid
 * (negative numbers, garbage), so the caller falls back to backoff. */
double parse_retry_after(const char *value, double now_wall)
{
  if (value == NULL)
    return -1;
  const char *s = skip_space(value);
  if (*s == '\0')
    return -1;
  if (isdigit((unsigned char)*s)) {
    const char *p = s;
    while (isdigit((unsigned char)*p))
      p++;
    if (!only_space(p))
      return -1;
    errno = 0;
    double v = strtod(s, NULL);
    if (errno == ERANGE || v > RETRY_AFTER_MAX)
      return RETRY_AFTER_MAX;
    return v;
  }
  if (!isalpha((unsigned char)*s))
    return -1;            /* "-5", "+3", "1.5e3"... */
  time_t when = curl_getdate(s, NULL);   /* libcurl's date parser, all three formats */
  if (when == (time_t)-1)
    return -1;
  double delay = (double)when - now_wall;
  if (delay < 0)
    return 0;
  return delay > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : delay;
}

/* A non-negative decimal integer header (inin-ratelimit-*). */
int parse_long_header(const char *value, long *out)
{
  if (value == NULL)
    return 0;
  const char *s = skip_space(value);
  if (!isdigit((unsigned char)*s))
    return 0;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno == ERANGE || !only_space(end))
    return 0;
  *out = v;
  return 1;
}
