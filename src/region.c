/* Genesys Cloud regions and their domains, as the official SDKs list them
 * (PureCloudRegionHosts). */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "config_parse.h"

static const struct { const char *name, *domain; } regions[] = {
  {"us-east-1", "mypurecloud.com"},
  {"eu-west-1", "mypurecloud.ie"},
  {"ap-southeast-2", "mypurecloud.com.au"},
  {"ap-northeast-1", "mypurecloud.jp"},
  {"eu-central-1", "mypurecloud.de"},
  {"us-west-2", "usw2.pure.cloud"},
  {"ca-central-1", "cac1.pure.cloud"},
  {"ap-northeast-2", "apne2.pure.cloud"},
  {"eu-west-2", "euw2.pure.cloud"},
  {"ap-south-1", "aps1.pure.cloud"},
  {"us-east-2", "use2.us-gov-pure.cloud"},
  {"sa-east-1", "sae1.pure.cloud"},
  {"me-central-1", "mec1.pure.cloud"},
  {"ap-northeast-3", "apne3.pure.cloud"},
  {"eu-central-2", "euc2.pure.cloud"},
};
#define NREGIONS (sizeof regions / sizeof regions[0])

const char *region_name_at(int i, const char **domain)
{
  if (i < 0 || (size_t)i >= NREGIONS)
    return NULL;
  if (domain)
    *domain = regions[i].domain;
  return regions[i].name;
}

/* Compare a name ignoring case and treating '_' as '-'. */
static int same_name(const char *a, size_t alen, const char *b)
{
  if (alen != strlen(b))
    return 0;
  for (size_t i = 0; i < alen; i++) {
    char c = a[i] == '_' ? '-' : (char)tolower((unsigned char)a[i]);
    if (c != b[i])
      return 0;
  }
  return 1;
}

const char *region_domain(const char *input)
{
  if (input == NULL)
    return NULL;
  const char *s = input;
  if (strncasecmp(s, "https://", 8) == 0)
    s += 8;
  if (strncasecmp(s, "api.", 4) == 0)
    s += 4;
  else if (strncasecmp(s, "login.", 6) == 0)
    s += 6;
  size_t len = strlen(s);
  while (len > 0 && s[len - 1] == '/')
    len--;
  for (size_t i = 0; i < NREGIONS; i++) {
    if (same_name(s, len, regions[i].name) ||
        (len == strlen(regions[i].domain) && strncasecmp(s, regions[i].domain, len) == 0))
      return regions[i].domain;
  }
  return NULL;
}
