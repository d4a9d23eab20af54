-- Workload 4: the local work of queue-sync without a network: load and
-- check N definition files, then plan each against cached state (what the
-- reads of each queue and its agents answered), and print the figures as JSON.
--   gcrun bench/local_work.lua DEFS_DIR CACHE_JSON
local definitions = require "gcrun.definitions"
local json = require "gcrun.json"
local platform = require "gcrun.api.platform"
local sys = require "gcrun.sys"

local dir, org_path = ...
local t0 = sys.clock()
local defs, errs = definitions.load_all { dir }
local t_load = sys.clock() - t0
assert(#errs == 0, errs[1] and definitions.format_error(errs[1]))

local org = json.decode_plain(assert(sys.read(org_path)))
collectgarbage("collect")
local queues, users, skills = {}, {}, {}
for _, q in ipairs(org.queues) do queues[q.id] = q end
for _, u in ipairs(org.users) do
  local s = {}
  for _, us in ipairs(u.skills) do s[us.id] = us.proficiency end
  users[u.id] = { name = u.name, skills = s }
end
for _, s in ipairs(org.skills) do skills[s.id] = s.name end
local api = platform.new(nil)
api.shared.skills = skills

local t1 = sys.clock()
local changes = 0
for _, def in ipairs(defs) do
  local q = queues[def.queue_id]
  local members = {}
  for _, m in ipairs(q.members or {}) do members[#members + 1] = { id = m.id, ringNumber = m.ringNumber } end
  local current = { queue = q, members = members, agents = users, flows = {} }
  local plan = api:plan(def, current)
  if not plan.empty then changes = changes + 1 end
end
local t_plan = sys.clock() - t1
print(json.encode { files = #defs, load_seconds = t_load, plan_seconds = t_plan, total_seconds = t_load + t_plan,
  queues_to_change = changes })
