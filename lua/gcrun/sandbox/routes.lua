-- The sandbox's routing table: method and path pattern to the function
-- that answers, for the platform dialect and the tutorial mount, with the
-- checks every request body gets (media type, JSON).
local divisions = require "gcrun.sandbox.divisions"
local flows = require "gcrun.sandbox.flows"
local json = require "gcrun.json"
local organization = require "gcrun.sandbox.organization"
local queues = require "gcrun.sandbox.queues"
local respond = require "gcrun.sandbox.respond"
local search = require "gcrun.sandbox.search"
local tutorial = require "gcrun.sandbox.tutorial"
local users = require "gcrun.sandbox.users"

local M = {}

local PLATFORM = {
  { "GET", "^/api/v2/routing/queues$", queues.list },
  { "POST", "^/api/v2/routing/queues$", queues.create, body = true },
  { "GET", "^/api/v2/routing/queues/([^/]+)$", queues.get },
  { "PUT", "^/api/v2/routing/queues/([^/]+)$", queues.put, body = true },
  { "DELETE", "^/api/v2/routing/queues/([^/]+)$", queues.delete },
  { "GET", "^/api/v2/routing/queues/([^/]+)/members$", queues.members },
  { "POST", "^/api/v2/routing/queues/([^/]+)/members$", queues.add_or_remove, body = true },
  { "PATCH", "^/api/v2/routing/queues/([^/]+)/members/([^/]+)$", queues.patch_member, body = true },
  { "GET", "^/api/v2/routing/skills$", users.skills },
  { "GET", "^/api/v2/users$", users.list },
  { "POST", "^/api/v2/users/search$", search.post, body = true },
  { "GET", "^/api/v2/users/search$", search.get },
  { "GET", "^/api/v2/authorization/divisions$", divisions.list },
  { "GET", "^/api/v2/authorization/divisions/([^/]+)$", divisions.get },
  { "GET", "^/api/v2/users/([^/]+)/routingskills$", users.routing_skills },
  { "PATCH", "^/api/v2/users/([^/]+)/routingskills/bulk$", users.bulk_skills, body = true },
  { "DELETE", "^/api/v2/users/([^/]+)/routingskills/([^/]+)$", users.remove_skill },
  { "GET", "^/api/v2/organizations/me$", organization.me },
  { "GET", "^/api/v2/architect/dependencytracking/consumingresources$", flows.consumers },
  { "GET", "^/api/v2/flows$", flows.list },
  { "POST", "^/api/v2/flows/actions/checkout$", flows.checkout },
  { "POST", "^/api/v2/flows/actions/checkin$", flows.checkin },
  { "POST", "^/api/v2/flows/actions/unlock$", flows.unlock },
  { "POST", "^/api/v2/flows/actions/publish$", flows.publish },
  { "GET", "^/api/v2/flows/([^/]+)$", flows.get },
  { "GET", "^/api/v2/flows/([^/]+)/latestconfiguration$", flows.latest },
  { "POST", "^/api/v2/flows/([^/]+)/versions$", flows.save, body = true },
}

local TUTORIAL = {
  { "GET", "^/api/v2/routing/queues/([^/]+)$", tutorial.get_queue },
  { "PUT", "^/api/v2/routing/queues/([^/]+)$", tutorial.put_queue, body = true },
  { "GET", "^/api/v2/flow/flows/([^/]+)$", tutorial.get_flow },
  { "PUT", "^/api/v2/flow/flows/([^/]+)$", tutorial.put_flow, body = true },
}

-- The path of the first number that is not finite (1e400 decodes to
-- infinity), or nil. The service answers 400 to such a body; the sandbox
-- must too, or it stores a value it can never save.
local function non_finite(value, path)
  if type(value) == "number" then
    if value ~= value or value == math.huge or value == -math.huge then return path end
  elseif type(value) == "table" then
    for k, v in pairs(value) do
      local found = non_finite(v, type(k) == "number" and string.format("%s[%d]", path, k - 1)
        or (path == "" and tostring(k) or path .. "." .. tostring(k)))
      if found then return found end
    end
  end
  return nil
end

local function parse_body(req)
  local ctype = (req.headers["content-type"] or ""):lower()
  if req.body == "" then
    return nil, respond.error(400, "bad.request", "The request body is required")
  end
  if not ctype:find("application/json", 1, true) then
    return nil, respond.error(415, "unsupported.media.type",
      "Unsupported Media Type - Unsupported or incorrect media type, expected application/json")
  end
  local value, err = json.decode(req.body)
  if value == nil then
    return nil, respond.error(400, "bad.request", "Unable to parse the request body: " .. err.message
      .. (err.line and string.format(" at line %d, column %d", err.line, err.column) or ""))
  end
  local bad = non_finite(value, "")
  if bad then
    return nil, respond.error(400, "bad.request", string.format(
      "Unable to parse the request body: the number at %s is out of range", bad == "" and "the top level" or bad),
      { details = { { errorCode = "bad.request", fieldName = bad } } })
  end
  return value
end

-- dispatch(sandbox, req, path, client, tutorial) -> response
function M.dispatch(sb, req, path, client, is_tutorial)
  local allowed = {}
  for _, r in ipairs(is_tutorial and TUTORIAL or PLATFORM) do
    local captures = { path:match(r[2]) }
    if captures[1] ~= nil then
      if r[1] == req.method then
        -- counted by route ("GET /api/v2/routing/queues/{}"), for specs
        -- that check how many requests of each kind a run sends
        r.label = r.label or (r[1] .. " " .. (is_tutorial and "/tutorial" or "")
          .. r[2]:sub(2, -2):gsub("%(%[%^/%]%+%)", "{}"))
        sb.stats.by_route[r.label] = (sb.stats.by_route[r.label] or 0) + 1
        local ctx = { sb = sb, org = sb.org, req = req, query = req.query, client = client,
          prefix = is_tutorial and "/tutorial" or "" }
        if r.body then
          local body, err = parse_body(req)
          if body == nil then return err end
          ctx.body = body
        end
        return r[3](ctx, table.unpack(captures))
      end
      allowed[#allowed + 1] = r[1]
    end
  end
  if #allowed > 0 then
    return respond.error(405, "method.not.allowed", string.format("%s is not allowed here; use %s",
      req.method, table.concat(allowed, " or ")), { headers = { Allow = table.concat(allowed, ", ") } })
  end
  return respond.error(404, "not.found", "The requested resource was not found: " .. req.path)
end

return M
