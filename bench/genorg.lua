-- Generate the benchmark org and its definitions:
--   gcrun bench/genorg.lua OUTDIR [QUEUES [DEFS_DIR_NAME]]
-- The org: 500 queues, 2,000 users, 60 skills, 50 flows each routing to 10
-- queues (dependency tracking follows from the nodes). The definitions:
-- one per queue, 4-8 members and 2-4 skills each, a new name, and the flow
-- that routes to the queue in `flows`.
local generate = require "gcrun.sandbox.generate"
local json = require "gcrun.json"
local sys = require "gcrun.sys"

local out = assert(..., "usage: gcrun bench/genorg.lua OUTDIR")
local nqueues = math.tointeger(tonumber(select(2, ...) or 500))
local defs_dir = out .. "/" .. (select(3, ...) or "defs")

local org = generate.org { users = 2000, skills = 60, queues = 500, flows = 50, queues_per_flow = 10,
  members_min = 2, members_max = 5, seed = 424242, name = "Benchmark org (gcrun sandbox)" }
assert(sys.mkdir_p(defs_dir))
assert(sys.write_atomic(out .. "/org.json", json.encode(org)))

local flow_of = {}
for _, f in ipairs(org.flows) do
  for _, n in ipairs(f.configuration.nodes) do
    if n.type == "Queue" then flow_of[n.config.queueId] = f.id end
  end
end

local state = 97
local function rand(lo, hi)
  state = (state * 48271) % 2147483647
  return lo + state % (hi - lo + 1)
end

for i = 1, nqueues do
  local q = org.queues[i]
  local members, skills = {}, {}
  for _ = 1, rand(4, 8) do members[org.users[rand(1, #org.users)].id] = rand(1, 3) end
  for _ = 1, rand(2, 4) do skills[org.skills[rand(1, #org.skills)].id] = rand(1, 5) end
  local def = {
    queue_id = q.id, name = q.name .. " v2", description = "Benchmark queue " .. i, outbound_queue = false,
    members = members, skills = skills, wrap_up_policy = "required", acw_timer_required = true,
    acw_timeout = 60 + i % 240, flows = { flow_of[q.id] },
  }
  assert(sys.write_atomic(string.format("%s/q%04d.json", defs_dir, i), json.encode(def, { pretty = true })))
end
print(string.format("%s/org.json: %d queues, %d users, %d skills, %d flows; %d definitions in %s",
  out, #org.queues, #org.users, #org.skills, #org.flows, nqueues, defs_dir))
