-- Platform routes for queues and their members:
--   GET /api/v2/routing/queues, GET|PUT /api/v2/routing/queues/{id},
--   GET|POST /api/v2/routing/queues/{id}/members,
--   PATCH /api/v2/routing/queues/{id}/members/{userId}
local json = require "gcrun.json"
local org_mod = require "gcrun.sandbox.org"
local respond = require "gcrun.sandbox.respond"
local sys = require "gcrun.sys"
local text = require "gcrun.text"
local validate = require "gcrun.sandbox.validate"

local M = {}

local MAX_MEMBERS_PER_CALL = 100

local function now_iso() return text.iso8601(sys.time()) end

-- The queue as the API shows it, with its member counts.
function M.view(q)
  local v = org_mod.public(q)
  local joined = 0
  for _, m in ipairs(q._members) do if m.joined then joined = joined + 1 end end
  v.memberCount, v.userMemberCount, v.joinedMemberCount = #q._members, #q._members, joined
  v.selfUri = "/api/v2/routing/queues/" .. q.id
  return v
end

-- A name filter as the service takes it: a prefix, or a pattern with *.
local function name_matches(name, filter)
  if not filter or filter == "" then return true end
  local pattern = "^" .. filter:lower():gsub("[%^%$%(%)%%%.%[%]%+%-%?]", "%%%0"):gsub("%*", ".*")
  return name:lower():find(pattern) ~= nil
end
M.name_matches = name_matches

local function by_name(a, b)
  if a.name == b.name then return a.id < b.id end
  return a.name < b.name
end

function M.list(ctx)
  local page, err = respond.paging(ctx.query, 500)
  if not page then return err end
  local items = {}
  for _, q in ipairs(ctx.org:list("queues")) do
    if name_matches(q.name, ctx.query.name) then items[#items + 1] = M.view(q) end
  end
  table.sort(items, by_name)
  return respond.listing("/api/v2/routing/queues", ctx.query, page, items)
end

function M.get(ctx, id)
  local q = ctx.org:get("queues", id)
  if not q then return respond.not_found("queue", id) end
  return respond.json(200, M.view(q))
end

-- PUT replaces every writable field: what the body leaves out is cleared,
-- which is why a client must send the whole queue back.
function M.put(ctx, id)
  local q = ctx.org:get("queues", id)
  if not q then return respond.not_found("queue", id) end
  local err = validate.queue(ctx.org, ctx.body, id)
  if err then return err end
  local old_name = q.name
  for field in pairs(validate.WRITABLE) do q[field] = json.copy(ctx.body[field]) end
  ctx.org:renamed(q, old_name)
  q.dateModified = now_iso()
  q.modifiedBy = ctx.client.id
  q.version = (q.version or 1) + 1
  ctx.sb.dirty = true
  return respond.json(200, M.view(q))
end

local function member_view(m, user)
  return {
    id = m.id, name = user and user.name, ringNumber = m.ringNumber, joined = m.joined, memberBy = "user",
    user = user and { id = user.id, name = user.name, selfUri = "/api/v2/users/" .. user.id },
    selfUri = "/api/v2/users/" .. m.id,
  }
end

function M.members(ctx, id)
  local q = ctx.org:get("queues", id)
  if not q then return respond.not_found("queue", id) end
  local page, err = respond.paging(ctx.query, 100)
  if not page then return err end
  local items = {}
  if ctx.query.memberBy ~= "group" then
    for _, m in ipairs(q._members) do
      items[#items + 1] = member_view(m, ctx.org:get("users", m.id))
    end
  end
  table.sort(items, function(a, b) return (a.name or a.id) < (b.name or b.id) end)
  return respond.listing("/api/v2/routing/queues/" .. id .. "/members", ctx.query, page, items)
end

-- POST .../members?delete=false|true with [{"id": userId}, ...], at most 100.
function M.add_or_remove(ctx, id)
  local q = ctx.org:get("queues", id)
  if not q then return respond.not_found("queue", id) end
  local del = ctx.query.delete
  if del ~= nil and del ~= "true" and del ~= "false" then
    return respond.invalid("delete must be true or false", "delete")
  end
  local body = ctx.body
  if not json.is_array(body) then
    return respond.error(400, "bad.request", "The request body must be a list of members")
  end
  if #body > MAX_MEMBERS_PER_CALL then
    return respond.invalid(string.format("At most %d members can be added or removed in one request, not %d",
      MAX_MEMBERS_PER_CALL, #body), "body")
  end
  local seen = {}
  for i, m in ipairs(body) do
    if type(m) ~= "table" or type(m.id) ~= "string" then
      return respond.invalid(string.format("Member %d has no id", i), "id")
    end
    if seen[m.id] then
      return respond.invalid(string.format("Duplicate member '%s' in the request", m.id), "id", m.id)
    end
    seen[m.id] = true
    if not ctx.org:get("users", m.id) then
      return respond.invalid(string.format("User '%s' was not found", m.id), "id", m.id)
    end
  end
  local index = {}
  for i, m in ipairs(q._members) do index[m.id] = i end
  if del == "true" then
    local kept = json.array({})
    for _, m in ipairs(q._members) do
      if not seen[m.id] then kept[#kept + 1] = m end
    end
    q._members = kept
  else
    for _, m in ipairs(body) do
      if not index[m.id] then
        q._members[#q._members + 1] = { id = m.id, ringNumber = 1, joined = true, _added = sys.time() }
      end
    end
  end
  ctx.sb.dirty = true
  return respond.empty(200)
end

-- PATCH .../members/{userId} {"ringNumber": 1..6, "joined": bool}; 202.
-- With --member-lag a member added moments ago is not there yet (404),
-- as with the service's eventual consistency.
function M.patch_member(ctx, id, user_id)
  local q = ctx.org:get("queues", id)
  if not q then return respond.not_found("queue", id) end
  local member
  for _, m in ipairs(q._members) do if m.id == user_id then member = m end end
  local lag = (tonumber(ctx.sb.args.member_lag) or 0) / 1000
  if not member or (member._added and sys.time() - member._added < lag) then
    return respond.not_found("queue member", user_id)
  end
  local body = ctx.body
  if type(body) ~= "table" or json.is_array(body) then
    return respond.error(400, "bad.request", "The request body must be a QueueMember object")
  end
  local ring = body.ringNumber
  if ring ~= nil and (math.type(ring) ~= "integer" or ring < 1 or ring > 6) then
    return respond.invalid(string.format("ringNumber %s is out of range: 1 to 6", tostring(ring)), "ringNumber",
      user_id)
  end
  if body.joined ~= nil and type(body.joined) ~= "boolean" then
    return respond.invalid("joined must be true or false", "joined", user_id)
  end
  if ring then member.ringNumber = ring end
  if body.joined ~= nil then member.joined = body.joined end
  ctx.sb.dirty = true
  return respond.empty(202)
end

return M
