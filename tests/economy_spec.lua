-- Request economy (issue 14): what queue-sync sends, counted by the
-- sandbox's own counters. On a real org the budget (300 requests a minute
-- per client) is the run's time, so requests are the figure that matters.
local h = require "tests.helpers"
local json = require "gcrun.json"

-- An org and one definition per queue, as the benchmark makes them: 4-8
-- members from the org's users, 2-4 skills, a new name and description.
local function org_and_defs(dir, nqueues)
  local org = require("gcrun.sandbox.generate").org { users = 300, skills = 20, queues = nqueues, flows = 6,
    queues_per_flow = 10, members_min = 2, members_max = 5, seed = 1414 }
  local org_path = dir .. "/org.json"
  h.write(org_path, json.encode(org))
  local state = 97
  local function rand(lo, hi)
    state = (state * 48271) % 2147483647
    return lo + state % (hi - lo + 1)
  end
  assert(require("gcrun.sys").mkdir_p(dir .. "/defs"))
  local defs = {}
  for i, q in ipairs(org.queues) do
    local members, skills = {}, {}
    for _ = 1, rand(4, 8) do members[org.users[rand(1, #org.users)].id] = rand(1, 3) end
    for _ = 1, rand(2, 4) do skills[org.skills[rand(1, #org.skills)].id] = rand(1, 5) end
    local def = { queue_id = q.id, name = q.name .. " v2", description = "Economy queue " .. i,
      outbound_queue = false, members = members, skills = skills, wrap_up_policy = "required",
      acw_timer_required = true, acw_timeout = 60 + i }
    defs[#defs + 1] = def
    h.write(string.format("%s/defs/q%03d.json", dir, i), json.encode(def))
  end
  return org, org_path, defs
end

-- The agents whose skills the definitions change: each agent's skills are
-- the highest level any of its queues asks, compared with the org's.
local function agents_to_patch(org, defs)
  local want = {}
  for _, def in ipairs(defs) do
    for agent in pairs(def.members) do
      want[agent] = want[agent] or {}
      for skill, level in pairs(def.skills) do
        if (want[agent][skill] or -1) < level then want[agent][skill] = level end
      end
    end
  end
  local have = {}
  for _, u in ipairs(org.users) do
    have[u.id] = {}
    for _, s in ipairs(u.skills) do have[u.id][s.id] = s.proficiency end
  end
  local n, agents = 0, 0
  for agent, skills in pairs(want) do
    agents = agents + 1
    for skill, level in pairs(skills) do
      if have[agent][skill] ~= level then n = n + 1; break end
    end
  end
  return n, agents
end

local function since(before, after)
  local d = { requests = after.requests - before.requests, by_route = {} }
  for k, v in pairs(after.by_route) do d.by_route[k] = v - (before.by_route[k] or 0) end
  return d
end

describe("queue-sync's requests", function()
  local dir, sb, org, defs
  local N = 60
  local first, again   -- {status=, stderr=, d = since()} of each run, in order

  local function run(report)
    local before = sb.stats()
    local r = sb.run({ "queue-sync", "--report", dir .. "/" .. report, dir .. "/defs" })
    return { status = r.status, stderr = r.stderr, d = since(before, sb.stats()),
      report = r.status < 2 and json.decode(h.read(dir .. "/" .. report)) or nil }
  end

  setup(function()
    dir = h.tmpdir()
    local org_path
    org, org_path, defs = org_and_defs(dir, N)
    sb = h.sandbox { org = org_path }
    first = run("first.json")
    again = run("again.json")
  end)
  teardown(function()
    sb.stop()
    h.rmtree(dir)
  end)

  it("on a first run: each agent's skills patched once, queues and agents read in bulk", function()
    local to_patch, agents = agents_to_patch(org, defs)
    assert.are.equal(0, first.status, first.stderr)
    local route = first.d.by_route
    assert.are.equal(to_patch, route["PATCH /api/v2/users/{}/routingskills/bulk"])
    assert.are.equal(math.ceil(N / 100), route["GET /api/v2/routing/queues"])
    assert.are.equal(0, route["GET /api/v2/routing/queues/{}"] or 0)
    assert.are.equal(N, route["GET /api/v2/routing/queues/{}/members"])
    assert.are.equal(math.ceil(agents / 100), route["GET /api/v2/users"])
    assert.are.equal(1, route["GET /api/v2/routing/skills"])
    -- 6 flows cost fewer reads than 60 dependency tracking calls
    assert.are.equal(0, route["GET /api/v2/architect/dependencytracking/consumingresources"] or 0)
    -- the report names for each queue the skills written for it
    local assigned = 0
    for _, c in ipairs(first.report.changes) do
      assert.are.equal("updated", c.status)
      assigned = assigned + #c.skill_assignments
    end
    assert.is_true(assigned >= to_patch)
  end)

  it("on a converged rerun: at most 1.1 per queue + 2 per flow + 1 per 100 agents", function()
    local _, agents = agents_to_patch(org, defs)
    assert.are.equal(0, again.status, again.stderr)
    local d, report = again.d, again.report
    assert.are.equal(0, report.total_queues_updated)
    local flows = #report.flows
    assert.is_true(flows > 0)
    local goal = 1.1 * N + 2 * flows + math.ceil(agents / 100)
    assert.is_true(d.requests <= goal, string.format("%d requests for %d queues, %d flows, %d agents (goal %.1f)",
      d.requests, N, flows, agents, goal))
    for route, n in pairs(d.by_route) do
      if n > 0 then assert.is_truthy(route:match("^GET ") or route:match("^POST /oauth"), route) end
    end
  end)
end)
