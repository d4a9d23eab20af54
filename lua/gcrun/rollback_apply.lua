-- queue-rollback's reads and writes of the org, in the platform dialect:
-- what it reads to compare with a report, and the writes that restore
-- queues, agents' skills and created queues (flows go through the
-- dialect's locked edit, in gcrun.rollback).
local call = require "gcrun.api.call"
local defaults = require "gcrun.defaults"
local http = require "gcrun.http"
local json = require "gcrun.json"
local mapping = require "gcrun.mapping"
local out = require "gcrun.rollback_output"
local records = require "gcrun.result"

local M = {}

local QUEUE = "/api/v2/routing/queues/{id}"

local read_only = {}
for _, k in ipairs(mapping.READ_ONLY) do read_only[k] = true end

---------------------------------------------------------------- reading

function M.read_queue(api, id)
  local resp = call.send(api, { path = QUEUE, params = { id = id } }, "GET queue " .. id)
  if resp.status == 404 then return nil end
  local queue = call.check(api, resp, "GET queue " .. id):json()
  local list = api:members(id)
  local members = {}
  for _, m in ipairs(list) do members[m.id] = math.tointeger(m.ringNumber) or m.ringNumber end
  return { queue = queue, list = list, members = members }
end

function M.read_flow(api, id)
  local resp = call.send(api, { path = "/api/v2/flows/{id}/latestconfiguration", params = { id = id } },
    "GET flow configuration " .. id)
  if resp.status == 404 then return nil end
  return call.check(api, resp, "GET flow configuration " .. id):json()
end

---------------------------------------------------------------- writing

-- Queue settings back to their before-values: the queue as it is now, with
-- the recorded fields set (or left out, where there was no value), so
-- nothing else about it changes.
local function put_fields(api, id, now, fields)
  local body = {}
  for k, v in pairs(now.queue) do
    if not read_only[k] then body[k] = v end
  end
  for _, f in ipairs(fields) do body[f.field] = json.copy(f.to) end
  now.queue = api:call({ method = "PUT", path = QUEUE, params = { id = id }, json = body, idempotent = true },
    "PUT queue"):json()
end

-- rollback of one queue: settings, then members and ring numbers through
-- the dialect's own writes (batches, the ring number's retry on a member
-- the service has not caught up with).
function M.queue(api, p, now)
  local id = p.target.id
  if #p.fields > 0 then put_fields(api, id, now, p.fields) end
  local plan = records.plan()
  for _, r in ipairs(p.remove) do plan.members_removed[#plan.members_removed + 1] = r.member end
  for _, a in ipairs(p.add) do
    plan.members_added[#plan.members_added + 1] = a.member
    if a.ring ~= 1 then
      plan.ring_changes[#plan.ring_changes + 1] = { member = a.member, before = 1, after = a.ring }
    end
  end
  for _, r in ipairs(p.rings) do
    plan.ring_changes[#plan.ring_changes + 1] = { member = r.member, before = r.from, after = r.to }
  end
  if not records.is_empty(plan) then
    api:execute(id, plan, { queue = now.queue, members = now.list, agents = {} })
  end
end

-- An agent's skills back to their before-levels; removed where the run
-- added them (a 404 says the skill is gone already).
function M.agent(api, p)
  local user = p.target.user
  for i = 1, #p.set, defaults.skill_batch do
    local rows = json.array({})
    for j = i, math.min(#p.set, i + defaults.skill_batch - 1) do
      rows[#rows + 1] = { id = p.set[j].id, proficiency = p.set[j].to }
    end
    api:call({ method = "PATCH", path = "/api/v2/users/{id}/routingskills/bulk", params = { id = user },
      json = rows, idempotent = true }, "restore skills of " .. user)
  end
  local _, errs = http.parallel(p.delete, function(d)
    local req = { method = "DELETE", path = "/api/v2/users/{id}/routingskills/{skill}",
      params = { id = user, skill = d.id }, idempotent = true }
    local resp = call.send(api, req, "remove skill " .. d.id .. " of " .. user)
    if resp.status ~= 404 then call.check(api, resp, "remove skill " .. d.id .. " of " .. user, req) end
  end, { concurrency = defaults.write_fanout })
  call.rethrow(errs)
end

-- A queue the run created, deleted (--delete-created) unless flows still
-- route to it: deleting it would leave them routing nowhere, and the
-- service refuses to save a flow that names a queue that does not exist.
function M.delete_created(api, rec, dry_run)
  local users = api:consumers(rec.queue_id)
  if #users > 0 then
    local names = {}
    for _, f in ipairs(users) do names[#names + 1] = f.name or f.id end
    rec.kept_for = names
    out.still_routed(rec, names)
    return
  end
  if dry_run then return end
  api:call({ method = "DELETE", path = QUEUE, params = { id = rec.queue_id } }, "DELETE queue " .. rec.queue_id)
  rec.deleted = true
end

return M
