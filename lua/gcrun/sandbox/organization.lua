-- Platform route for the org itself: GET /api/v2/organizations/me, the
-- Organization model (id, name, version, state, ...), which the client
-- records in its reports to tell one org's report from another's.
local respond = require "gcrun.sandbox.respond"

local M = {}

function M.me(ctx)
  local o = ctx.org.data.org
  return respond.json(200, {
    id = o.id, name = o.name, defaultLanguage = o.defaultLanguage or "en", defaultCountryCode = "US",
    thirdPartyOrgName = o.thirdPartyOrgName or "gcrun-sandbox", domain = "gcrun-sandbox", version = o.version or 1,
    state = "active", voicemailEnabled = true, selfUri = "/api/v2/organizations/" .. o.id,
  })
end

return M
