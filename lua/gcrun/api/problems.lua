-- The service's error answers, in both dialects, normalised once to
-- problems the correction rules match on kind and fields, never on the
-- service's English:
--
--   { kind = "unknown-skill" | "unknown-user" | "duplicate-member" |
--            "duplicate-skill" | "duplicate-name" | "invalid-value" |
--            "not-found" | "conflict" | "unauthorized" | "forbidden" |
--            "rejected" (a 400 no other kind describes) | "failed",
--     definition_field = the definition's field the problem is about
--            ("wrap_up_policy", "acw_timeout", "name", "skills", "members"),
--     entity = the id the service named, message = the service's text,
--     code = its code, field = the field it named, source = "service" }
--
-- `message`, `code`, `field` and `entity` are what rule files written
-- before kinds existed match on; they keep their meaning.
--
-- What an answer is about comes from the request that got it: its method
-- and path (a skills, members, ring number or queue write), and the ids
-- it sent. The platform dialect names the offending id in
-- details[].entityId; the tutorial's wire format names it in quotes in
-- errors[].message, which is the one place its text is read.
local M = {}

-- QueueRequest fields, as the definition calls them.
local QUEUE_FIELDS = {
  ["acwSettings.wrapupPrompt"] = "wrap_up_policy", ["acwSettings.timeoutMs"] = "acw_timeout",
  acwSettings = "wrap_up_policy", name = "name", description = "description",
}

-- What a platform request wrote, from its method and path.
local function about(resp)
  local path = (resp.url or ""):match("^%a+://[^/]*([^?]*)") or ""
  if path:find("/routingskills/bulk$") then return "skills" end
  if resp.method == "POST" and path:find("/routing/queues/[^/]+/members$") then return "members" end
  if resp.method == "PATCH" and path:find("/routing/queues/[^/]+/members/[^/]+$") then return "ring" end
  if resp.method == "PUT" and path:find("/routing/queues/[^/]+$") then return "queue" end
end

local BY_STATUS = { [401] = "unauthorized", [403] = "forbidden", [404] = "not-found", [409] = "conflict" }

-- How often `id` appears as an element's id in list `l`.
local function count_id(l, id)
  local n = 0
  if type(l) == "table" then
    for _, e in ipairs(l) do if type(e) == "table" and e.id == id then n = n + 1 end end
  end
  return n
end

-- A platform ErrorBody's problem: the request says what its ids are.
local function platform_kind(p, resp, req)
  local status, what, field, id = resp.status, about(resp), p.field, p.entity
  if p.code == "duplicate.name" then return "duplicate-name", "name" end
  if status ~= 400 then return BY_STATUS[status] or "failed" end
  if what == "skills" then
    if field == "id" and id then return "unknown-skill", "skills" end
    if field == "proficiency" then return "invalid-value", "skills" end
  elseif what == "members" then
    if field == "id" and id then
      if count_id(req and req.json, id) > 1 then return "duplicate-member", "members" end
      return "unknown-user", "members"
    end
  elseif what == "ring" then
    return "invalid-value", "members"
  elseif what == "queue" and field then
    return "invalid-value", QUEUE_FIELDS[field]
  end
  return p.code == "invalid.value" and "invalid-value" or "rejected"
end

-- A tutorial `errors[]` problem: what the quoted value is in the payload.
local function tutorial_kind(p, req)
  local body = req and type(req.json) == "table" and req.json or {}
  local named = p.message:match("'([^']*)'")
  if p.code == "duplicate.name" then return "duplicate-name", "name", named end
  if p.code == "duplicate.member" then return "duplicate-member", "members", named end
  if named then
    if count_id(body.skills, named) > 0 then
      if count_id(body.skills, named) > 1 then return "duplicate-skill", "skills", named end
      return p.code == "not.found" and "unknown-skill" or "invalid-value", "skills", named
    end
    if count_id(body.members, named) > 0 then
      return p.code == "not.found" and "unknown-user" or "invalid-value", "members", named
    end
    if named == body.wrap_up_policy then return "invalid-value", "wrap_up_policy" end
  end
  return p.code == "invalid.value" and "invalid-value" or "rejected"
end

-- of(resp [, req]) -> { problem, ... }, never empty.
function M.of(resp, req)
  local ok, body = pcall(resp.json, resp, { read_only = true })
  if not ok or type(body) ~= "table" then
    return { { kind = BY_STATUS[resp.status] or (resp.status == 400 and "rejected" or "failed"), source = "service",
      -- (the status is said by whoever reports the problem: call.check)
      message = string.format("the answer has no JSON error message (%s %s)", resp.method, resp.url) } }
  end
  local list = {}
  for _, e in ipairs(type(body.errors) == "table" and body.errors or {}) do
    if type(e) == "table" and e.message then
      local p = { message = tostring(e.message), code = e.code, source = "service" }
      p.kind, p.definition_field, p.entity = tutorial_kind(p, req)
      p.field = p.definition_field
      list[#list + 1] = p
    end
  end
  if #list == 0 then
    local d = type(body.details) == "table" and body.details[1] or {}
    local params = type(body.messageParams) == "table" and body.messageParams or {}
    local p = { message = tostring(body.message or body.error_description or ("HTTP " .. resp.status)),
      code = body.code, field = d.fieldName, entity = d.entityId or params.id, source = "service" }
    p.kind, p.definition_field = platform_kind(p, resp, req)
    list[1] = p
  end
  return list
end

return M
