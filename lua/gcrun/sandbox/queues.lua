-- Platform routes for queues and their members:
--   GET|POST /api/v2/routing/queues, GET|PUT /api/v2/routing/queues/{id},
--   GET|POST /api/v2/routing/queues/{id}/members,
--   PATCH /api/v2/routing/queues/{id}/members/{userId}
local ids = require "gcrun.sandbox.ids"
local json = require "gcrun.json"
local org_mod = require "gcrun.sandbox.org"
local respond = require "gcrun.sandbox.respond"
local sys = require "gcrun.sys"
local text = require "gcrun.text"
local validate = require "gcrun.sandbox.validate"

local M = {}

local MAX_MEMBERS_PER_CALL = 100

local function now_iso() return text.iso8601(sys.time()) end

-- The queue as the API shows it, with its member counts and division.
function M.view(q, org)
  local v = org_mod.public(q)
  local joined = 0
  for _, m in ipairs(q._members) do if m.joined then joined = joined + 1 end end
  v.memberCount, v.userMemberCount, v.joinedMemberCount = #q._members, #q._members, joined
  local d = org and (q.division and org:get("divisions", q.division.id) or org:home_division())
  if d then v.division = { id = d.id, name = d.name, selfUri = "/api/v2/authorization/divisions/" .. d.id } end
  v.selfUri = "/api/v2/routing/queues/" .. q.id
  return v
end

-- A name filter as the skill and flow lists take it: a prefix, or a
-- pattern with *.
local function name_matches(name, filter)
  if not filter or filter == "" then return true end
  local pattern = "^" .. filter:lower():gsub("[%^%$%(%)%%%.%[%]%+%-%?]", "%%%0"):gsub("%*", ".*")
  return name:lower():find(pattern) ~= nil
end
M.name_matches = name_matches

-- The queue list's name filter: the whole name (ignoring case), with a
-- leading and/or trailing * allowed ("Include only queues with the given
-- name (leading and trailing asterisks allowed)").
function M.exact_name_matches(name, filter)
  if not filter or filter == "" then return true end
  local lead, core, trail = filter:lower():match("^(%**)(.-)(%**)$")
  local n = name:lower()
  local at = n:find(core, 1, true)
  if lead ~= "" and trail ~= "" then return at ~= nil end
  if trail ~= "" then return n:sub(1, #core) == core end
  if lead ~= "" then return #core <= #n and n:sub(-#core) == core or core == "" end
  return n == core
end

-- A new queue is not seen for --queue-lag ms (the service's eventual
-- consistency): it answers 404 and is missing from lists meanwhile.
function M.visible(ctx, q)
  local lag = (tonumber(ctx.sb.args.queue_lag) or 0) / 1000
  return not (q._created and sys.time() - q._created < lag)
end

-- A queue by id as the API finds it, or nil.
local function find(ctx, id)
  local q = ctx.org:get("queues", id)
  if q and M.visible(ctx, q) then return q end
  return nil
end
M.find = find

-- A list parameter, repeated (id=a&id=b) or comma-separated, as a set.
function M.id_set(value)
  if value == nil then return nil end
  local set = {}
  for _, v in ipairs(type(value) == "table" and value or { value }) do
    for id in tostring(v):gmatch("[^,]+") do set[id] = true end
  end
  return set
end

local function by_name(a, b)
  if a.name == b.name then return a.id < b.id end
  return a.name < b.name
end

-- GET /api/v2/routing/queues?name=&id=&divisionId=&pageSize=&pageNumber=
function M.list(ctx)
  local page, err = respond.paging(ctx.query, 500)
  if not page then return err end
  if type(ctx.query.name) == "table" then return respond.invalid("name can be given once", "name") end
  local only, divisions = M.id_set(ctx.query.id), M.id_set(ctx.query.divisionId)
  local home = ctx.org:home_division().id
  local items = {}
  for _, q in ipairs(ctx.org:list("queues")) do
    if M.visible(ctx, q) and M.exact_name_matches(q.name, ctx.query.name) and (not only or only[q.id])
      and (not divisions or divisions[q.division and q.division.id or home]) then
      items[#items + 1] = M.view(q, ctx.org)
    end
  end
  table.sort(items, by_name)
  return respond.listing("/api/v2/routing/queues", ctx.query, page, items)
end

function M.get(ctx, id)
  local q = find(ctx, id)
  if not q then return respond.not_found("queue", id) end
  return respond.json(200, M.view(q, ctx.org))
end

-- POST /api/v2/routing/queues with a CreateQueueRequest: the same checks
-- as a PUT (a name no other queue has, acwSettings, mediaSettings and
-- skillEvaluationMethod required); sourceQueueId copies an existing
-- queue's settings first. Answers 200 with the new Queue.
function M.create(ctx)
  local body = ctx.body
  local source
  if type(body) == "table" and body.sourceQueueId ~= nil then
    source = find(ctx, body.sourceQueueId)
    if not source then
      return respond.invalid(string.format("Source queue '%s' was not found", tostring(body.sourceQueueId)),
        "sourceQueueId")
    end
    local merged = {}
    for field in pairs(validate.WRITABLE) do merged[field] = json.copy(source[field]) end
    for k, v in pairs(body) do merged[k] = v end
    merged.name = body.name
    body = merged
  end
  local err = validate.queue(ctx.org, body, nil)
  if err then return err end
  local q = { id = ids.random(ctx.sb.random), _members = json.array({}), _created = sys.time() }
  for field in pairs(validate.WRITABLE) do q[field] = json.copy(body[field]) end
  q.dateCreated, q.createdBy, q.version = now_iso(), ctx.client.id, 1
  q.dateModified, q.modifiedBy = q.dateCreated, ctx.client.id
  ctx.org:add("queues", q)
  ctx.sb.dirty = true
  return respond.json(200, M.view(q, ctx.org))
end

-- PUT replaces every writable field: what the body leaves out is cleared,
-- which is why a client must send the whole queue back.
function M.put(ctx, id)
  local q = find(ctx, id)
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
  return respond.json(200, M.view(q, ctx.org))
end

-- DELETE /api/v2/routing/queues/{id}[?forceDelete=]: the queue and its
-- memberships are gone; flows that name it keep naming it, as in Architect.
function M.delete(ctx, id)
  local q = ctx.org:get("queues", id)
  if not q then return respond.not_found("queue", id) end
  local list = ctx.org:list("queues")
  for i, x in ipairs(list) do
    if x == q then table.remove(list, i); break end
  end
  ctx.org.index.queues[id] = nil
  if type(q.name) == "string" and ctx.org.names[q.name:lower()] == q then ctx.org.names[q.name:lower()] = nil end
  ctx.sb.dirty = true
  return respond.empty(200)
end

local function member_view(m, user)
  return {
    id = m.id, name = user and user.name, ringNumber = m.ringNumber, joined = m.joined, memberBy = "user",
    user = user and { id = user.id, name = user.name, selfUri = "/api/v2/users/" .. user.id },
    selfUri = "/api/v2/users/" .. m.id,
  }
end

function M.members(ctx, id)
  local q = find(ctx, id)
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
  local q = find(ctx, id)
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
  local q = find(ctx, id)
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
