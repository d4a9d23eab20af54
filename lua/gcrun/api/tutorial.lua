-- The tutorial's wire format (--api tutorial): one PUT of the snake_case
-- payload per queue, members and skills inside it; flows read and written
-- whole at /api/v2/flow/flows/{id} with the version one above the current.
-- The service's 400 answers list their problems in `errors`, which
-- gcrun.api.problems turns into the kinds the correction rules match. A GET of the queue first lets a queue that is
-- already as defined be left alone. The methods are the dialect contract
-- of gcrun.api.
local answers = require "gcrun.api.answers"
local call = require "gcrun.api.call"
local errors = require "gcrun.errors"
local flowedit = require "gcrun.flowedit"
local json = require "gcrun.json"
local mapping = require "gcrun.mapping"
local records = require "gcrun.result"

local M = { name = "tutorial" }

-- The tutorial's token request: on the API host itself, the client id and
-- secret in a JSON body (gcrun.oauth.resolve's `token`).
M.token = { host = "api", path = "/api/v2/oauth/token", client_auth = "json" }

local P = {}
P.__index = P

function M.new(client, opts)
  return setmetatable({ c = client, opts = opts or {} }, P)
end

function P:scope()
  return setmetatable({ c = self.c, opts = self.opts, counters = call.counters() }, P)
end

function P:call(req, what) return call.run(self, req, what) end

-- The tutorial's API has no skill list: unknown skills are found by the
-- service's 400 and corrected then, as in the tutorial.
function P.prepare() end
function P.skills() return nil end

local QUEUE = "/api/v2/routing/queues/{id}"

function P:read(def)
  local id = def.queue_id
  local ok, resp = pcall(self.call, self, { path = QUEUE, params = { id = id } }, "GET queue " .. id)
  if not ok then
    if errors.is(resp, "not_found") then errors.raise("not_found", "queue %s does not exist in this org", id) end
    error(resp, 0)
  end
  local q = answers.object(resp:json { read_only = true }, "GET queue " .. id)
  local members = {}
  for _, m in ipairs(q.members or {}) do members[#members + 1] = { id = m.id, ringNumber = m.priority } end
  return { queue = q, members = members, flows = {} }
end

local function by_id(list, key)
  local t = {}
  for _, e in ipairs(list or {}) do if t[e.id] == nil then t[e.id] = e[key] end end
  return t
end

local function same_set(a, b)
  for k, v in pairs(a) do if b[k] ~= v then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

function P.plan(_, desired, current)
  local payload = mapping.tutorial_payload(desired)
  local q = current.queue
  local plan = records.plan()
  plan.request = payload
  local changes, ring = plan.fields_changed, plan.ring_changes
  for _, f in ipairs { "description", "name", "outbound_queue", "skill_config", "wrap_up_policy" } do
    if not json.equal(q[f], payload[f]) then
      changes[#changes + 1] = { field = f, before = json.copy(q[f]), after = json.copy(payload[f]) }
    end
  end
  local want_members, have_members = by_id(payload.members, "priority"), by_id(q.members, "priority")
  for _, m in ipairs(payload.members) do
    if have_members[m.id] == nil then plan.members_added[#plan.members_added + 1] = m.id
    elseif have_members[m.id] ~= m.priority then
      ring[#ring + 1] = { member = m.id, before = have_members[m.id], after = m.priority }
    end
  end
  for _, m in ipairs(q.members or {}) do
    if want_members[m.id] == nil then plan.members_removed[#plan.members_removed + 1] = m.id end
  end
  if not same_set(by_id(payload.skills, "level"), by_id(q.skills, "level")) then
    changes[#changes + 1] = { field = "skills", before = json.copy(q.skills), after = json.copy(payload.skills) }
    for _, m in ipairs(payload.members) do
      plan.skill_assignments[#plan.skill_assignments + 1] = { user = m.id, skills = payload.skills }
    end
  end
  if #plan.members_added + #plan.members_removed + #ring > 0 then
    changes[#changes + 1] = { field = "members", before = json.copy(q.members), after = json.copy(payload.members) }
  end
  -- everything the one PUT changes is in fields_changed
  plan.empty = #changes == 0
  return plan
end

function P:execute(queue_id, plan, current)
  local resp = self:call({ method = "PUT", path = QUEUE, params = { id = queue_id }, json = plan.request,
    idempotent = true }, "PUT queue")
  current.queue = answers.object(resp:json(), "PUT queue")
  current.members = {}
  for _, m in ipairs(current.queue.members or {}) do
    current.members[#current.members + 1] = { id = m.id, ringNumber = m.priority }
  end
end

-- outcome(before, after) -> what changed, as a plan (for the report): the
-- difference of the two queue views, read as a plan would be.
function P:outcome(before, after)
  local desired = { name = after.queue.name, description = after.queue.description,
    outbound_queue = after.queue.outbound_queue, wrap_up_policy = after.queue.wrap_up_policy,
    acw_timer_required = after.queue.skill_config and after.queue.skill_config.acw_timer_required,
    acw_timeout = after.queue.skill_config and after.queue.skill_config.acw_timeout,
    skills = after.queue.skills or {}, members = after.queue.members or {} }
  return self:plan(desired, before)
end

local FLOW = "/api/v2/flow/flows/{id}"

-- After an edit that stopped early (err): the name, and whether a PUT
-- whose answer never came (putting: the version it carried) landed, from
-- one read sent as cleanup work (a signal does not stop it). The PUT
-- landed when the flow has that version or later and already has the edit.
local function stopped(api, flow_id, queues, result, putting, err)
  if putting or (errors.is(err, "interrupted") and not result.name) then
    local resp, rerr = api.c.safe:request { path = FLOW, params = { id = flow_id }, idempotent = true, cleanup = true }
    call.count(api, resp or rerr)
    local ok, flow = false, nil
    if resp and resp.status == 200 then ok, flow = pcall(resp.json, resp) end
    if ok and type(flow) == "table" then
      result.name = result.name or flow.name
      local v = math.tointeger(tonumber(flow.version))
      if putting and v and v >= putting and #flowedit.edit(flow, queues) == 0 then
        result.status, result.new_version = "updated", v
        return result
      end
    end
  end
  records.failed(result, err)
  result.changes = {}
  return result
end

-- edit_flow(flow_id, queues, {dry_run=}) -> a gcrun.result flow record; a
-- failure or an interrupt is in the record (see api/platform_flows.lua)
function P:edit_flow(flow_id, queues, how)
  local result = records.flow(flow_id, self.counters)
  local putting
  local function fetch()
    return answers.object(self:call({ path = FLOW, params = { id = flow_id } }, "GET flow " .. flow_id):json(),
      "GET flow " .. flow_id, { version = "number" })
  end
  local ok, err = pcall(function()
    if not flowedit.prepare(result, fetch(), queues, how) then return end
    local r = flowedit.converge {
      result = result, queues = queues, fetch = fetch,
      before_save = function(flow) flow.version = flow.version + 1 end,   -- the tutorial's concurrency rule
      save = function(flow)
        -- not retried blindly: a resent PUT whose first copy landed would
        -- meet a 409; the conflict loop refetches and sees the edit instead
        putting = flow.version
        local resp = call.send(self, { method = "PUT", path = FLOW, params = { id = flow_id }, json = flow,
          idempotent = false })
        putting = nil
        return resp
      end,
    }
    result.status = r.changed and "updated" or "unchanged"
    result.new_version = r.changed and (r.unknown and r.latest or r.latest + 1) or nil
  end)
  if ok then return result end
  return stopped(self, flow_id, queues, result, putting, err)
end

return M
