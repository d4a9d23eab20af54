/* URL helpers: percent-encoding and the loopback rule for plain http.
 * Both lean on libcurl's own parser and encoder. */
#include "config.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "http.h"

static int host_is_loopback(const char *host)
{
  if (strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 || strcmp(host, "::1") == 0)
    return 1;
  struct in_addr a;
  if (inet_pton(AF_INET, host, &a) == 1)
    return (ntohl(a.s_addr) >> 24) == 127;
  return 0;
}

/* 0: https, allowed. 1: http to a loopback host, allowed. -1: http
 * elsewhere, refused. -2: not an http(s) URL at all. */
int url_is_loopback_http(const char *url)
{
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL;
  int result = -2;
  if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
    if (strcasecmp(scheme, "https") == 0)
      result = 0;
    else if (strcasecmp(scheme, "http") == 0)
      result = host_is_loopback(host) ? 1 : -1;
  }
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  return result;
}

/* Percent-encode everything but RFC 3986 unreserved characters. (libcurl
 * reads a length of 0 as "up to the NUL": an empty input is handled here.) */
char *url_encode(const char *s, size_t len)
{
  if (len == 0)
    return strdup("");
  if (len > INT_MAX)
    return NULL;
  char *e = curl_easy_escape(NULL, s, (int)len);
  if (e == NULL)
    return NULL;
  char *copy = strdup(e);
  curl_free(e);
  return copy;
}
