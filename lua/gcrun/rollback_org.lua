-- The org a report belongs to: queue-sync records it (GET
-- /api/v2/organizations/me) so that queue-rollback can refuse a report
-- from another org. A dialect that cannot say (the tutorial's) records
-- nothing.
local errors = require "gcrun.errors"
local log = require "gcrun.log"

local M = {}

-- read(api) -> {id=, name=} or nil. A run is not failed for want of it:
-- the report then says no org, and queue-rollback refuses it.
function M.read(api)
  if not api.organization then return nil end
  local ok, org = pcall(api.organization, api)
  if ok and type(org) == "table" and type(org.id) == "string" then return org end
  if not ok and errors.is(org, "interrupted") then error(org, 0) end
  log.warn("cannot tell which org this is (" .. (ok and "no id in the answer" or errors.message(org))
    .. "): the report will not record it, and queue-rollback will refuse it")
  return nil
end

return M
