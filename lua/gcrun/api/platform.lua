-- The Genesys Cloud Platform API v2, as queue-sync uses it:
--   read   in bulk before the queues' work (gcrun.orgread): the queues by
--          id, the member agents with their skills, the flows that consume
--          them; then per queue only its members (paged)
--   write  PUT the full QueueRequest; members added and removed with POST
--          .../members?delete=, at most 100 a call; ring numbers with
--          PATCH .../members/{id} (a 404 retried a few seconds: the service
--          is eventually consistent); agents' skills with PATCH
--          /api/v2/users/{id}/routingskills/bulk, at most 50 a call (once
--          per agent for all its queues with opts.group_skills)
--   flows  one locked edit per flow (api/platform_flows.lua)
-- The methods are the dialect contract of gcrun.api.
local answers = require "gcrun.api.answers"
local call = require "gcrun.api.call"
local defaults = require "gcrun.defaults"
local errors = require "gcrun.errors"
local http = require "gcrun.http"
local json = require "gcrun.json"
local mapping = require "gcrun.mapping"
local orgread = require "gcrun.orgread"
local platform_flows = require "gcrun.api.platform_flows"
local records = require "gcrun.result"
local removals = require "gcrun.skill_removal"
local retry = require "gcrun.retry"
local skill_levels = require "gcrun.skill_levels"
local sys = require "gcrun.sys"

local abs = math.abs
-- shared, only read: no table built per queue planned for an absent list
local EMPTY = setmetatable({}, { __newindex = function() error("EMPTY is read-only", 2) end })

local M = { name = "platform" }

-- Genesys Cloud's token request: the login host's /oauth/token, client id
-- and secret as Basic authentication (gcrun.oauth.resolve's `token`).
M.token = { host = "login", path = "/oauth/token", client_auth = "basic" }

local P = {}
P.__index = P

-- new(client, {force_unlock=, lock_wait=, member_lag_wait=, skill_levels=,
-- group_skills=, find_flows=}) -> api
function M.new(client, opts)
  return setmetatable({ c = client, opts = opts or {}, shared = {} }, P)
end

-- A view of the API that counts the requests made for one queue or flow;
-- what is read once per run (the org's skills) is shared.
function P:scope()
  return setmetatable({ c = self.c, opts = self.opts, counters = call.counters(), shared = self.shared }, P)
end

function P:skills() return self.shared.skills end

local QUEUE = "/api/v2/routing/queues/{id}"

function P:call(req, what) return call.run(self, req, what) end
function P:pages(path, params, query, what, how) return call.pages(self, path, params, query, what, how) end

local batches = orgread.batches

-- The org's skills, read once per run: id -> name.
function P:prepare()
  self.shared.skills = orgread.skills(self)
end

function P:agents(ids) return orgread.users(self, ids) end

function P:consumers(queue_id) return orgread.consumers(self, queue_id) end

-- prefetch(defs, all): what read() will need for these definitions, read
-- in bulk: their queues by id, the member agents not read yet (kept for
-- the run, holding only the skills the run assigns), and once per run
-- which flows consume the run's queues (`all`: every definition of the
-- run). read() takes a queue's entry, so what is held is one window.
function P:prefetch(defs, all)
  local shared = self.shared
  if not shared.agents then
    local keep, queue_ids, seen = {}, {}, {}
    for _, def in ipairs(all) do
      for _, s in ipairs(def.skills or {}) do keep[s.id] = true end
      local id = def.queue_id
      if id and not seen[id] then seen[id] = true; queue_ids[#queue_ids + 1] = id end
    end
    shared.agents, shared.keep_skills, shared.queues = {}, keep, {}
    -- the queues a name resolution listed (gcrun.resolve): the run's only
    local listed = shared.listed_queues
    if listed then
      shared.listed_queues = {}
      for _, id in ipairs(queue_ids) do shared.listed_queues[id] = listed[id] end
    end
    if self.opts.find_flows ~= false then shared.finder = orgread.consumers_of(self, queue_ids) end
  end
  local queue_ids, user_ids, seen = {}, {}, {}
  for _, def in ipairs(defs) do
    local id = def.queue_id
    local listed = id and shared.listed_queues and shared.listed_queues[id]
    if listed then
      shared.queues[id], shared.listed_queues[id] = listed, nil
    elseif id and shared.queues[id] == nil then
      queue_ids[#queue_ids + 1] = id
    end
    for _, m in ipairs(def.members or {}) do
      if shared.agents[m.id] == nil and not seen[m.id] and not m.unresolved then
        seen[m.id] = true; user_ids[#user_ids + 1] = m.id
      end
    end
  end
  local jobs = {
    function() return orgread.queues(self, queue_ids) end,
    function() return orgread.users(self, user_ids, shared.keep_skills) end,
  }
  local results, errs = http.parallel(jobs, function(job) return job() end, { concurrency = 2 })
  call.rethrow(errs)
  for id, q in pairs(results[1]) do shared.queues[id] = q end
  for _, id in ipairs(user_ids) do shared.agents[id] = results[2][id] or false end
end

-- The member agents of one queue: from what prefetch read, the others read
-- now (100 a call).
local function agents_of(api, ids)
  local cache = api.shared.agents
  if not cache then return orgread.users(api, ids) end
  local missing = {}
  for _, id in ipairs(ids) do if cache[id] == nil then missing[#missing + 1] = id end end
  if #missing > 0 then
    local read = orgread.users(api, missing, api.shared.keep_skills)
    for _, id in ipairs(missing) do cache[id] = read[id] or false end
  end
  local agents = {}
  for _, id in ipairs(ids) do agents[id] = cache[id] or nil end
  return agents
end

-- members(queue_id) -> { {id=, ringNumber=, name=}, ... }
function P:members(queue_id)
  local members = {}
  for _, m in ipairs(self:pages(QUEUE .. "/members", { id = queue_id }, nil, "GET members")) do
    members[#members + 1] = { id = m.id, ringNumber = m.ringNumber or 1, name = m.name }
  end
  return members
end

-- read(def) -> current state of the queue and what surrounds it
function P:read(def)
  local id = def.queue_id
  local ids, seen = {}, {}
  for _, m in ipairs(def.members or {}) do
    -- a name gcrun.resolve found no user for is no id to ask for
    if not seen[m.id] and not m.unresolved then seen[m.id] = true; ids[#ids + 1] = m.id end
  end
  -- what prefetch read is taken, not copied: the PUT sends it back
  local queue = self.shared.queues and self.shared.queues[id]
  if queue then self.shared.queues[id] = nil end
  local finder = self.shared.finder
  local jobs = {
    queue and function() return queue end
      or function() return answers.queue(self:call({ path = QUEUE, params = { id = id } }, "GET queue " .. id):json(),
        id, "GET queue " .. id) end,
    function() return self:members(id) end,
    function() return agents_of(self, ids) end,
    finder and function() return finder.flows(id) end
      or self.opts.find_flows == false and function() return {} end   -- --no-flows: nothing to find
      or function() return self:consumers(id) end,
  }
  local results, errs = http.parallel(jobs, function(job) return job() end, { concurrency = defaults.read_fanout })
  if errs[1] and errs[1].status == 404 then
    errors.raise("not_found", "queue %s does not exist in this org", id)
  end
  call.rethrow(errs)
  local current = { queue = results[1], members = results[2], agents = results[3], flows = results[4] }
  if def.members == nil and def.skills ~= nil then
    -- members untouched, skills managed: the skills go to the members the queue has
    local mine = {}
    for _, m in ipairs(current.members) do mine[#mine + 1] = m.id end
    current.agents = self:agents(mine)
  end
  return current
end

-- plan(desired, current) -> what to change (a gcrun.result plan);
-- plan.problems lists what the org says is wrong with `desired` (unknown
-- skills or users).
function P:plan(desired, current)
  local plan = records.plan(mapping.managed_changes(desired, current.queue))
  plan.desired = desired

  local have = {}
  for _, m in ipairs(current.members) do have[m.id] = m.ringNumber end
  local want, order = {}, {}
  for _, m in ipairs(desired.members or current.members) do
    if want[m.id] == nil then want[m.id] = m.priority or m.ringNumber; order[#order + 1] = m.id end
  end
  local problems, ring = plan.problems, plan.ring_changes
  -- members absent from the definition: untouched (their agents still get its skills)
  for _, id in ipairs(desired.members and order or EMPTY) do
    if not current.agents[id] then
      problems[#problems + 1] = { kind = "unknown-user", definition_field = "members", source = "plan",
        code = "not.found", entity = id,
        message = desired.members_named and desired.members_named[id]
          and string.format("Member '%s' not found: no user has that email or username", id)
          or string.format("Member '%s' not found: there is no such user in the org", id) }
    elseif have[id] == nil then
      plan.members_added[#plan.members_added + 1] = id
      if want[id] ~= 1 then ring[#ring + 1] = { member = id, before = 1, after = want[id] } end
    elseif have[id] ~= want[id] then
      ring[#ring + 1] = { member = id, before = have[id], after = want[id] }
    end
  end
  for _, m in ipairs(current.members) do
    if want[m.id] == nil then
      plan.members_removed[#plan.members_removed + 1] = m.id
      plan.removed_rings[#plan.removed_rings + 1] = { member = m.id, before = m.ringNumber }
    end
  end

  local known = self.shared.skills
  for _, s in ipairs(desired.skills or EMPTY) do
    if known and not known[s.id] then
      problems[#problems + 1] = { kind = "unknown-skill", definition_field = "skills", source = "plan",
        code = "not.found", entity = s.id, message = string.format("Skill '%s' not found in the org", s.id) }
    end
  end
  local skills = desired.skills or EMPTY
  local overrides = self.opts.skill_levels or EMPTY
  local assign = plan.skill_assignments
  for _, id in ipairs(order) do
    local agent = current.agents[id]
    if agent then
      local have_skills, needed, levels = agent.skills, nil, overrides[id]
      for _, s in ipairs(skills) do
        local level = levels and levels[s.id] or s.level
        local p = have_skills[s.id]
        if level == 0 and p ~= nil and skill_levels.kept(self.opts.skill_given, id, agent.name, s.id, desired.file) then
          level = p   -- another definition of this run gives it: not removed
        end
        -- level 0: the skill is removed (when the agent has it)
        if (level == 0 and p ~= nil) or (level ~= 0 and p ~= level and (p == nil or abs(p - level) > 1e-9)) then
          needed = needed or {}
          -- three fields either way: `before` when the agent has the skill,
          -- `added` when it has not (10,000 queues' agents hold many rows)
          local e = { id = s.id, level = level }
          if p ~= nil then e.before = p else e.added = true end
          needed[#needed + 1] = e
        end
      end
      if needed then assign[#assign + 1] = { user = id, name = agent.name, skills = needed } end
    end
  end
  plan.empty = records.is_empty(plan)
  return plan
end

local function members_call(api, id, ids, delete)
  for _, group in ipairs(batches(ids, defaults.member_batch)) do
    local body = json.array({})
    for i, uid in ipairs(group) do body[i] = { id = uid } end
    api:call({ method = "POST", path = QUEUE .. "/members", params = { id = id },
      query = { delete = delete and "true" or "false" }, json = body, idempotent = true },
      (delete and "remove" or "add") .. " members")
  end
end

-- A ring number for a member added moments ago may meet a 404 while the
-- service catches up; retry that for a while, as the Terraform provider does.
local function set_ring(api, id, r)
  local n, deadline = 0, sys.clock() + (api.opts.member_lag_wait or defaults.member_lag_wait)
  while true do
    local req = { method = "PATCH", path = QUEUE .. "/members/{user}", params = { id = id, user = r.member },
      json = { id = r.member, ringNumber = r.after } }
    local resp = call.send(api, req)
    n = n + 1
    local wait = retry.backoff(n, 0.25, 2, 1)   -- the one backoff; no jitter: a lag, not a crowd
    if resp.status ~= 404 or sys.clock() + wait > deadline then
      return call.check(api, resp, "set ring number of " .. r.member, req)
    end
    http.sleep(wait, { say = string.format("member %s of queue %s not found yet (the service catching up)",
      r.member, id) })
  end
end

-- The skills of one PATCH .../routingskills/bulk, as the wire says them.
local function skill_rows(skills, from, to)
  local rows = json.array({})
  for i = from, to do rows[#rows + 1] = { id = skills[i].id, proficiency = skills[i].level } end
  return rows
end

-- execute(queue_id, plan, current): send the writes; `current` follows
-- each step that succeeded, so after a correction a new plan holds only
-- what is left. A 400 raises a "rejected" error with the problems.
function P:execute(queue_id, plan, current)
  local jobs = {}
  local added, removed = plan.members_added, plan.members_removed
  if #plan.fields_changed > 0 then
    jobs[#jobs + 1] = function()
      local request = mapping.queue_request(plan.desired, current.queue)
      local resp = self:call({ method = "PUT", path = QUEUE, params = { id = queue_id }, json = request,
        idempotent = true }, "PUT queue")
      current.queue = answers.queue(resp:json(), queue_id, "PUT queue")
    end
  end
  if #added > 0 or #removed > 0 then
    jobs[#jobs + 1] = function()
      if #removed > 0 then
        members_call(self, queue_id, removed, true)
        local gone = {}
        for _, id in ipairs(removed) do gone[id] = true end
        local kept = {}
        for _, m in ipairs(current.members) do if not gone[m.id] then kept[#kept + 1] = m end end
        current.members = kept
      end
      if #added > 0 then
        members_call(self, queue_id, added, false)
        for _, id in ipairs(added) do current.members[#current.members + 1] = { id = id, ringNumber = 1 } end
      end
    end
  end
  -- grouped, the engine sends the skills once per agent for all its
  -- queues (assign_skills) after the queues' own writes
  for _, a in ipairs(self.opts.group_skills and {} or plan.skill_assignments) do
    jobs[#jobs + 1] = function() self:assign_skills(a.user, a.skills, current.agents[a.user], a.name) end
  end
  local _, errs = http.parallel(jobs, function(job) job() end, { concurrency = defaults.write_fanout })
  call.rethrow(errs)
  if #plan.ring_changes > 0 then
    _, errs = http.parallel(plan.ring_changes, function(r)
      set_ring(self, queue_id, r)
      for _, m in ipairs(current.members) do if m.id == r.member then m.ringNumber = r.after end end
    end, { concurrency = defaults.write_fanout })
    call.rethrow(errs)
  end
end

-- assign_skills(user, skills [, agent, name]): set the agent's skills
-- ({id=, level=}; level 0 removes one, gcrun.skill_removal), 50 a PATCH;
-- `agent` (as read) follows what was accepted.
function P:assign_skills(user, skills, agent, name)
  agent = agent or { skills = {} }
  local set, size = removals.split(self, { user = user, name = name, skills = skills },
    { agents = { [user] = agent } })
  for i = 1, #set, size do
    local last = math.min(#set, i + size - 1)
    self:call({ method = "PATCH", path = "/api/v2/users/{id}/routingskills/bulk", params = { id = user },
      json = skill_rows(set, i, last), idempotent = true }, "assign skills to " .. (name or user))
    for j = i, last do agent.skills[set[j].id] = set[j].level end
  end
end

-- outcome(before, after) -> what changed between two states read or
-- updated by execute, in the form of a plan (for the report).
function P.outcome(_, before, after)
  local out = records.plan(mapping.field_changes(before.queue, after.queue))
  local was, now = {}, {}
  local ring = out.ring_changes
  for _, m in ipairs(before.members) do was[m.id] = m.ringNumber end
  for _, m in ipairs(after.members) do
    now[m.id] = m.ringNumber
    if was[m.id] == nil then
      out.members_added[#out.members_added + 1] = m.id
      if m.ringNumber ~= 1 then ring[#ring + 1] = { member = m.id, before = 1, after = m.ringNumber } end
    elseif was[m.id] ~= m.ringNumber then
      ring[#ring + 1] = { member = m.id, before = was[m.id], after = m.ringNumber }
    end
  end
  for _, m in ipairs(before.members) do
    if now[m.id] == nil then
      out.members_removed[#out.members_removed + 1] = m.id
      out.removed_rings[#out.removed_rings + 1] = { member = m.id, before = m.ringNumber }
    end
  end
  local users = {}
  for id in pairs(after.agents) do users[#users + 1] = id end
  table.sort(users)
  for _, id in ipairs(users) do
    local a, b = after.agents[id], before.agents[id] or { skills = {} }
    local skills = {}
    for sid, level in pairs(a.skills) do
      local had = b.skills[sid]
      if had ~= level then
        skills[#skills + 1] = { id = sid, level = level, before = had, added = had == nil or nil }
      end
    end
    for sid, level in pairs(b.skills) do
      if a.skills[sid] == nil then skills[#skills + 1] = { id = sid, level = 0, before = level } end
    end
    table.sort(skills, function(x, y) return x.id < y.id end)
    if #skills > 0 then
      out.skill_assignments[#out.skill_assignments + 1] = { user = id, name = a.name, skills = skills }
    end
  end
  out.empty = records.is_empty(out)
  return out
end

-- organization() -> {id=, name=}: the org the client is signed in to,
-- which a report records so that queue-rollback refuses another org's.
function P:organization()
  local o = self:call({ path = "/api/v2/organizations/me" }, "GET organization"):json()
  return { id = o.id, name = o.name }
end

---------------------------------------------------------------- flows

-- edit_flow(flow_id, queues, {dry_run=}) -> result: the locked edit, in
-- api/platform_flows.lua (which says what the result holds)
function P:edit_flow(flow_id, queues, how)
  return platform_flows.edit(self, flow_id, queues, how)
end

return M
