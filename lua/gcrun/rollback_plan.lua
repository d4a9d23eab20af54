-- What a queue-sync (or queue-rollback) impact report says was changed, as
-- objects to restore, and how the org compares with it now. Nothing here
-- reads or writes the org: gcrun.rollback does, with these.
--
-- Every recorded change has a value before and after the run (nil where
-- there was none: a member not in the queue, a skill the agent lacked).
-- Now the org holds, for each:
--   the after-value    the run's change is still there: restore before
--   the before-value   nothing to do (the run never got to it, or someone
--                      already undid it)
--   anything else      someone changed it since: a conflict
-- An object (a queue with its members, an agent's skills, a flow) with a
-- conflict is left alone, unless forced. The same comparison serves an
-- interrupted run, whose records hold what it meant to do: what it did is
-- at the after-value.
local errors = require "gcrun.errors"
local json = require "gcrun.json"

local M = {}

local function absent(v) return v == nil or v == json.null end

-- same(a, b): equal as JSON values; levels compare as numbers do.
function M.same(a, b)
  if absent(a) or absent(b) then return absent(a) and absent(b) end
  if type(a) == "number" and type(b) == "number" then return math.abs(a - b) < 1e-9 end
  return json.equal(a, b)
end

local function bad(file, where, reason)
  errors.raise("input", "%s: %s: %s", file, where, reason)
end

local function list_of(file, where, v)
  if v == nil or v == json.null then return {} end
  if type(v) ~= "table" or (next(v) ~= nil and not json.is_array(v)) then bad(file, where, "must be a list") end
  return v
end

local function id_of(file, where, v)
  if type(v) ~= "string" or v == "" then bad(file, where, "must be an id (a string)") end
  return v
end

local function ring_of(file, where, v)
  local n = math.tointeger(v)
  if not n or n < 1 then bad(file, where, "must be a ring number (1 or more)") end
  return n
end

local OLD = "no %s recorded (a report written before queue-rollback existed cannot be rolled back)"

-- The records that changed (or meant to change) something: a plan or a
-- queue never started changed nothing.
local function considered(e) return e.status ~= "planned" and e.status ~= "not_started" end

-- One queue's record -> its queue target and its agents' skill rows.
local function queue_target(file, i, e, agents, order)
  local at = string.format("changes[%d]", i)
  local t = { id = id_of(file, at .. ".queue_id", e.queue_id), name = e.queue_name, file = e.file,
    created = e.created == true, deleted = e.deleted == true, fields = {}, added = {}, removed = {}, rings = {},
    partial = e.status == "interrupted" or e.status == "failed" }
  for j, f in ipairs(list_of(file, at .. ".fields_changed", e.fields_changed)) do
    if type(f) ~= "table" or type(f.field) ~= "string" then
      bad(file, string.format("%s.fields_changed[%d]", at, j), "must be {field, before, after}")
    end
    t.fields[#t.fields + 1] = { field = f.field, before = f.before, after = f.after }
  end
  local ring_after, added = {}, {}
  for j, r in ipairs(list_of(file, at .. ".ring_numbers", e.ring_numbers)) do
    local where = string.format("%s.ring_numbers[%d]", at, j)
    if type(r) ~= "table" then bad(file, where, "must be {member, before, after}") end
    ring_after[id_of(file, where .. ".member", r.member)] = { before = ring_of(file, where .. ".before", r.before),
      after = ring_of(file, where .. ".after", r.after) }
  end
  for j, id in ipairs(list_of(file, at .. ".members_added", e.members_added)) do
    id = id_of(file, string.format("%s.members_added[%d]", at, j), id)
    added[id] = true
    t.added[#t.added + 1] = { member = id, ring = ring_after[id] and ring_after[id].after or 1 }
  end
  local had = {}
  for j, r in ipairs(list_of(file, at .. ".ring_numbers_removed", e.ring_numbers_removed)) do
    local where = string.format("%s.ring_numbers_removed[%d]", at, j)
    if type(r) ~= "table" then bad(file, where, "must be {member, before}") end
    had[id_of(file, where .. ".member", r.member)] = ring_of(file, where .. ".before", r.before)
  end
  for j, id in ipairs(list_of(file, at .. ".members_removed", e.members_removed)) do
    local where = string.format("%s.members_removed[%d]", at, j)
    id = id_of(file, where, id)
    if not had[id] then bad(file, where, string.format(OLD, "ring number for the removed member " .. id)) end
    t.removed[#t.removed + 1] = { member = id, ring = had[id] }
  end
  for _, r in ipairs(e.ring_numbers or {}) do
    if not added[r.member] then
      t.rings[#t.rings + 1] = { member = r.member, before = r.before, after = r.after }
    end
  end
  for j, a in ipairs(list_of(file, at .. ".skill_assignments", e.skill_assignments)) do
    local where = string.format("%s.skill_assignments[%d]", at, j)
    if type(a) ~= "table" then bad(file, where, "must be {user, name, skills}") end
    local user = id_of(file, where .. ".user", a.user)
    local agent = agents[user]
    if not agent then
      agent = { user = user, name = a.name, queue = t.id, skills = {}, seen = {} }
      agents[user] = agent
      order[#order + 1] = user
    end
    for k, s in ipairs(list_of(file, where .. ".skills", a.skills)) do
      local sw = string.format("%s.skills[%d]", where, k)
      if type(s) ~= "table" then bad(file, sw, "must be {id, level, before}") end
      local sid = id_of(file, sw .. ".id", s.id)
      -- level 0 (or removed) is a skill taken away; no before, one the agent lacked
      local removed = s.removed == true or s.level == 0
      if not removed and type(s.level) ~= "number" then bad(file, sw .. ".level", "must be a number") end
      if s.before ~= nil and type(s.before) ~= "number" then bad(file, sw .. ".before", "must be a number") end
      -- two queues' records may both hold an agent's change: the first says it
      if not agent.seen[sid] then
        agent.seen[sid] = true
        agent.skills[#agent.skills + 1] = { id = sid, before = s.before, after = not removed and s.level or nil }
      end
    end
  end
  return t
end

local function flow_target(file, i, f)
  local at = string.format("flows[%d]", i)
  local t = { id = id_of(file, at .. ".id", f.id), name = f.name, nodes = {} }
  for j, c in ipairs(list_of(file, at .. ".nodes_changed", f.nodes_changed)) do
    local where = string.format("%s.nodes_changed[%d]", at, j)
    if type(c) ~= "table" or type(c.field) ~= "string" then
      bad(file, where, "must be {node, queue, field, before, after}")
    end
    t.nodes[#t.nodes + 1] = { node = id_of(file, where .. ".node", c.node), queue = c.queue, field = c.field,
      before = c.before, after = c.after }
  end
  return t
end

-- targets(doc, file) -> {queues = {...}, agents = {...}, flows = {...}}
--   queue  {id=, name=, file=, created=, partial = the run did not finish it,
--           fields = { {field=, before=, after=} },
--           added = { {member=, ring=} }, removed = { {member=, ring=} },
--           rings = { {member=, before=, after=} } (members kept)}
--   agent  {user=, name=, queue = the record it is reported with,
--           skills = { {id=, before=, after=} }}
--   flow   {id=, name=, nodes = { {node=, queue=, field=, before=, after=} }}
-- Raises "input" naming the report and the field when a record is not
-- what a report holds.
function M.targets(doc, file)
  local out = { queues = {}, agents = {}, flows = {} }
  local agents, order, seen = {}, {}, {}
  for i, e in ipairs(list_of(file, "changes", doc.changes)) do
    if type(e) ~= "table" then bad(file, string.format("changes[%d]", i), "must be an object") end
    if considered(e) then
      local t = queue_target(file, i, e, agents, order)
      if seen[t.id] then
        bad(file, string.format("changes[%d].queue_id", i), string.format("queue %s is also changes[%d]", t.id,
          seen[t.id]))
      end
      seen[t.id] = i
      out.queues[#out.queues + 1] = t
    end
  end
  for _, user in ipairs(order) do
    local a = agents[user]
    a.seen = nil
    out.agents[#out.agents + 1] = a
  end
  for i, f in ipairs(list_of(file, "flows", doc.flows)) do
    if type(f) ~= "table" then bad(file, string.format("flows[%d]", i), "must be an object") end
    local t = flow_target(file, i, f)
    if #t.nodes > 0 then out.flows[#out.flows + 1] = t end
  end
  return out
end

---------------------------------------------------------------- comparing

-- One recorded change against what the org holds now: "revert", "done"
-- or "conflict".
local function verdict(now, before, after)
  if M.same(now, after) then return "revert" end
  if M.same(now, before) then return "done" end
  return "conflict"
end

local function conflict(list, what, expected, found)
  list[#list + 1] = { what = what, expected = expected, found = found }
end

local function settle(p, force)
  if #p.differences > 0 and not force then
    p.status = "conflict"
  else
    p.status = p.empty(p) and "unchanged" or "revert"
  end
  p.empty = nil
  return p
end

-- queue(target, now, force) -> plan: {status = "revert" | "unchanged" |
-- "conflict" | "gone", differences, fields = { {field=, from=, to=} },
-- remove = { {member=, ring=} }, add = { {member=, ring=} },
-- rings = { {member=, from=, to=} }}. now: {queue=, members = {id = ring}}
-- or nil when the queue is gone.
function M.queue(t, now, force)
  local p = { target = t, differences = {}, fields = {}, remove = {}, add = {}, rings = {} }
  p.empty = function(x) return #x.fields + #x.remove + #x.add + #x.rings == 0 end
  if not now then
    conflict(p.differences, "queue", "the queue", "no such queue (deleted since)")
    p.status, p.empty = "gone", nil
    return p
  end
  for _, f in ipairs(t.fields) do
    local cur = now.queue[f.field]
    local v = verdict(cur, f.before, f.after)
    if v == "conflict" then conflict(p.differences, f.field, f.after, cur) end
    if v == "revert" or (v == "conflict" and force) then
      p.fields[#p.fields + 1] = { field = f.field, from = cur, to = f.before }
    end
  end
  for _, a in ipairs(t.added) do
    local ring = now.members[a.member]
    -- a run stopped between adding a member and setting its ring number
    -- left it at 1, where every member starts
    local as_left = ring == a.ring or (t.partial and ring == 1)
    if ring and not as_left then
      conflict(p.differences, "member " .. a.member, "ring " .. a.ring, "ring " .. ring)
    end
    if ring and (as_left or force) then p.remove[#p.remove + 1] = { member = a.member, ring = ring } end
  end
  for _, r in ipairs(t.removed) do
    local ring = now.members[r.member]
    if not ring then
      p.add[#p.add + 1] = { member = r.member, ring = r.ring }
    elseif ring ~= r.ring then
      conflict(p.differences, "member " .. r.member, "not a member", "a member at ring " .. ring)
      if force then p.rings[#p.rings + 1] = { member = r.member, from = ring, to = r.ring } end
    end
  end
  for _, r in ipairs(t.rings) do
    local ring = now.members[r.member]
    local v = verdict(ring, r.before, r.after)
    if v == "conflict" then
      conflict(p.differences, "ring number of " .. r.member, r.after, ring or "not a member")
    end
    if ring and (v == "revert" or (v == "conflict" and force)) then
      p.rings[#p.rings + 1] = { member = r.member, from = ring, to = r.before }
    end
  end
  return settle(p, force)
end

-- agent(target, now, force) -> plan: {status, differences, set = { {id=,
-- from=, to=} }, delete = { {id=, from=} }}. now: {skills = {id = level}}
-- or nil when there is no such user any more.
function M.agent(t, now, force)
  local p = { target = t, differences = {}, set = {}, delete = {} }
  p.empty = function(x) return #x.set + #x.delete == 0 end
  if not now then
    conflict(p.differences, "agent", "the agent", "no such user (deleted since)")
    p.status, p.empty = "gone", nil
    return p
  end
  for _, s in ipairs(t.skills) do
    local cur = now.skills[s.id]
    local v = verdict(cur, s.before, s.after)
    if v == "conflict" then conflict(p.differences, "skill " .. s.id, s.after, cur) end
    if v == "revert" or (v == "conflict" and force) then
      if s.before == nil then
        p.delete[#p.delete + 1] = { id = s.id, from = cur }
      else
        p.set[#p.set + 1] = { id = s.id, from = cur, to = s.before }
      end
    end
  end
  return settle(p, force)
end

local function node_index(config)
  local by = {}
  for _, n in ipairs(type(config) == "table" and config.nodes or {}) do
    if type(n) == "table" and n.id ~= nil then by[n.id] = n end
  end
  return by
end

-- The node edits that restore a flow's recorded nodes in `config` (done in
-- place): { {node=, queue=, field=, before=, after=} } in the report's
-- vocabulary, before being what the node held. Only nodes at their
-- after-value are restored, or any but a missing one when forced; a second
-- pass finds nothing, as the lock protocol's conflict loop needs.
function M.restore_nodes(config, t, force)
  local by, changes = node_index(config), {}
  for _, c in ipairs(t.nodes) do
    local node = by[c.node]
    if node and type(node.config) == "table" then
      local cur = node.config[c.field]
      local v = verdict(cur, c.before, c.after)
      if v == "revert" or (v == "conflict" and force) then
        changes[#changes + 1] = { node = c.node, queue = c.queue, field = c.field, before = json.copy(cur),
          after = json.copy(c.before) }
        node.config[c.field] = json.copy(c.before)
      end
    end
  end
  return changes
end

-- flow(target, config, force) -> plan: {status, differences, nodes = the
-- edits restore_nodes would make}. config: the latest configuration, or
-- nil when the flow is gone.
function M.flow(t, config, force)
  local p = { target = t, differences = {} }
  p.empty = function(x) return #x.nodes == 0 end
  if not config then
    conflict(p.differences, "flow", "the flow", "no such flow (deleted since)")
    p.status, p.empty, p.nodes = "gone", nil, {}
    return p
  end
  local by = node_index(config)
  for _, c in ipairs(t.nodes) do
    local node = by[c.node]
    local what = string.format("node %s %s", c.node, c.field)
    if not node or type(node.config) ~= "table" then
      conflict(p.differences, what, c.after, "no such node")
    elseif verdict(node.config[c.field], c.before, c.after) == "conflict" then
      conflict(p.differences, what, c.after, node.config[c.field])
    end
  end
  p.nodes = M.restore_nodes(json.copy(config), t, force)
  return settle(p, force)
end

return M
