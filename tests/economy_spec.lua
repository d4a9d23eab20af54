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
      for _, a in ipairs(c.skill_assignments) do
        assert.is_string(c.names[a.user])   -- named from the state read, though written after the queue
      end
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

describe("gcrun.sync_agents", function()
  local sync_agents = require "gcrun.sync_agents"
  local errors = require "gcrun.errors"

  local function rec(id, pending)
    return { queue_id = id, status = "unchanged", skill_assignments = {}, pending_skills = pending,
      corrections = {}, flows = {} }
  end

  it("patches each agent once for all its queues at the highest level; a failed agent fails its queues only",
    function()
      local calls = {}
      local api = { assign_skills = function(_, user, skills)
        calls[user] = (calls[user] or 0) + 1
        if user == "bad" then errors.raise("rejected", "assign skills to bad: HTTP 400 invalid.value") end
        if user == "u1" then
          table.sort(skills, function(x, y) return x.id < y.id end)
          assert.are.same({ { id = "s1", level = 4 }, { id = "s2", level = 1 } }, skills)
        end
      end }
      local a = rec("qa", { { user = "u1", skills = { { id = "s1", level = 2 } } },
        { user = "bad", skills = { { id = "s1", level = 1 } } } })
      local b = rec("qb", { { user = "u1", skills = { { id = "s1", level = 4 }, { id = "s2", level = 1 } } } })
      local c = rec("qc", nil)
      local finished = {}
      sync_agents.sync({ concurrency = 2 }, { a, b, c }, api, function(r) finished[#finished + 1] = r.queue_id end)
      assert.are.same({ u1 = 1, bad = 1 }, calls)
      assert.are.same({ "qa", "qb" }, finished)
      assert.are.equal("failed", a.status)
      assert.matches("assign skills to bad", a.error)
      assert.are.equal(1, #a.skill_assignments)   -- u1's skills were written for qa too
      assert.are.equal("updated", b.status)
      assert.are.equal(1, #b.skill_assignments)
      assert.are.equal("unchanged", c.status)
      assert.is_nil(a.pending_skills)
    end)
end)

describe("gcrun.sync_agents under Ctrl-C", function()
  it("marks a queue interrupted when its agent's PATCH was cut short, finished all the same", function()
    local sync_agents = require "gcrun.sync_agents"
    local errors = require "gcrun.errors"
    local api = { assign_skills = function() errors.raise("interrupted", "interrupted by SIGINT") end }
    local rec = { queue_id = "qa", status = "updated", skill_assignments = {}, corrections = {}, flows = {},
      pending_skills = { { user = "u1", skills = { { id = "s1", level = 2 } } } } }
    local finished = 0
    sync_agents.sync({ concurrency = 1 }, { rec }, api, function() finished = finished + 1 end)
    assert.are.equal("interrupted", rec.status)
    assert.are.equal(1, finished)
    assert.are.equal(0, #rec.skill_assignments)
  end)
end)

describe("gcrun.orgread.consumers_of", function()
  local orgread = require "gcrun.orgread"

  -- An api whose flow list has `n` flows, each routing to queue q<i>.
  local function fake(n)
    local api = { sent = {} }
    function api.call(_, req)
      api.sent[#api.sent + 1] = req.path
      local body
      if req.path == "/api/v2/flows" then
        local entities = {}
        for i = 1, n do entities[i] = { id = "f" .. i, name = "Flow " .. i } end
        body = { entities = entities, total = n, pageSize = 100, pageNumber = 1 }
      else
        local i = req.params.id:match("%d+")
        body = { version = 1, nodes = { { id = "n", type = "Queue", config = { queueId = "q" .. i } },
          { id = "m", type = "Message", config = { queueId = "q0" } } } }
      end
      return { json = function() return body end }
    end
    return api
  end

  local function queues(n)
    local ids = {}
    for i = 1, n do ids[i] = "q" .. i end
    return ids
  end

  it("asks dependency tracking per queue when that costs fewer requests", function()
    local api = fake(7)
    assert.is_nil(orgread.consumers_of(api, queues(5)))
    assert.are.equal(1, #api.sent)        -- the first page of the list, to count the flows
    assert.is_nil(orgread.consumers_of(api, queues(1)))
    assert.are.equal(1, #api.sent)        -- one queue: nothing to compare
  end)

  it("else reads the flows once and answers from what it read, handing each configuration over once", function()
    local api = fake(7)
    local finder = orgread.consumers_of(api, queues(10))
    assert.are.equal(8, #api.sent)        -- the list and 7 configurations
    assert.are.same({ { id = "f3", name = "Flow 3" } }, finder.flows("q3"))
    assert.are.same({}, finder.flows("q9"))
    assert.are.same({}, finder.flows("q0"))  -- a Message node names no queue it routes to
    assert.are.equal(1, finder.config("f3").version)
    assert.is_nil(finder.config("f3"))
  end)
end)

describe("gcrun.progress without a terminal", function()
  local progress = require "gcrun.progress"
  local log = require "gcrun.log"
  local sys = require "gcrun.sys"
  local dir, every

  local function capture(fn)
    local path = dir .. "/stderr"
    local f = assert(io.open(path, "w"))
    log.configure { out = f }
    local ok, err = pcall(fn)
    log.configure { out = io.stderr }
    f:close()
    assert(ok, err)
    return h.read(path)
  end

  before_each(function()
    dir = h.tmpdir()
    every = progress.EVERY
  end)
  after_each(function()
    progress.EVERY = every
    h.rmtree(dir)
  end)

  it("says queues done, requests sent and the wait for the rate window", function()
    if sys.isatty("stderr") then return end   -- the plain lines are for logs and CI
    progress.EVERY = 0
    local stats = { requests = 1812, rate_hold = 23.2 }
    local out = capture(function()
      local p = progress.new(500, "queues", { stats = function() return stats end })
      p:step("updated")
      stats.rate_hold = 0
      p:step("updated")
    end)
    assert.matches("waiting 23 s for the rate window, 1,812 requests sent %(1/500 queues done%)\n", out)
    assert.matches("\n2/500 queues done, 1,812 requests sent\n", out)
  end)

  it("prints at most one line every EVERY seconds, also while nothing finishes", function()
    if sys.isatty("stderr") then return end
    local http = require "gcrun.http"
    progress.EVERY = 0.9
    local out = capture(function()
      local p = progress.new(3, "queues", { stats = function() return { requests = 5 } end })
      progress.run(p, function()
        for _ = 1, 20 do p:step("unchanged") end  -- many steps at once: no line yet
        http.sleep(3.5)   -- a tick a second: 3 lines, or fewer on a loaded machine, never more than 3.5 / 0.9
      end)
    end)
    local lines = select(2, out:gsub("\n", ""))
    assert.is_true(lines >= 2 and lines <= 4, out)
  end)

  it("ends with the work, not with the ticker's nap, and adds no wait to the timeline", function()
    if sys.isatty("stderr") then return end
    local timeline = require "gcrun.timeline"
    local r = timeline.start()
    local p = progress.new(1, "queues", { stats = function() return { requests = 0 } end })
    local t0 = sys.clock()
    local http = require "gcrun.http"
    -- work that waits a moment, so the ticker is napping when it ends
    local ok, got = pcall(progress.run, p, function()
      http.sleep(0.05, { untimed = true })
      return "done"
    end)
    timeline.stop()
    assert.is_true(ok, got)
    assert.equal("done", got)
    -- the ticker naps a tenth of a second at a time (it napped a whole second)
    assert.is_true(sys.clock() - t0 < 0.5, "progress.run held the run open")
    for kind, w in pairs(r.waits) do assert.equal(0, w.count, kind) end
  end)
end)

describe("the platform dialect's bulk reads, window by window", function()
  local api_of = require "gcrun.api"
  local definitions = require "gcrun.definitions"
  local http = require "gcrun.http"
  local oauth = require "gcrun.oauth"
  local orgread = require "gcrun.orgread"
  local dir, sb, api, defs

  setup(function()
    dir = h.tmpdir()
    local _, org_path = org_and_defs(dir, 60)
    sb = h.sandbox { org = org_path }
    local _, creds = oauth.resolve { base_url = sb.url, client_id = sb.client_id,
      client_secret = sb.client_secret, env_file = false, token = require("gcrun.api.platform").token }
    api = api_of.new("platform", http.client { base_url = sb.url, auth = creds, max_attempts = 1,
      concurrency = 8 }, {})
    local errs
    defs, errs = definitions.load_all { dir .. "/defs" }
    assert.are.equal(0, #errs)
  end)
  teardown(function()
    sb.stop()
    h.rmtree(dir)
  end)

  it("reads each window's queues by id, each agent once for the run, then only members per queue", function()
    local recs = {}
    for i, def in ipairs(defs) do recs[i] = { def = def } end
    local distinct = {}
    for _, def in ipairs(defs) do for _, m in ipairs(def.members) do distinct[m.id] = true end end
    local before = sb.stats()
    local view = api:scope()
    local windows = orgread.windows(recs, 25)
    assert.are.equal(3, #windows)
    local agents_read = 0
    for _, window in ipairs(windows) do
      orgread.prefetch(view, window, recs)
      local held = 0
      for _ in pairs(view.shared.queues) do held = held + 1 end
      assert.are.equal(#window, held)           -- one window's queues held at a time
      for _, rec in ipairs(window) do
        local current = view:read(rec.def)
        assert.are.equal(rec.def.queue_id, current.queue.id)
        assert.is_table(current.queue.acwSettings)
        for _, m in ipairs(rec.def.members) do assert.is_table(current.agents[m.id]) end
      end
      assert.is_nil(next(view.shared.queues))   -- each read took its queue
    end
    for _, a in pairs(view.shared.agents) do
      if a then agents_read = agents_read + 1 end
    end
    local n = 0
    for _ in pairs(distinct) do n = n + 1 end
    assert.are.equal(n, agents_read)
    local d = since(before, sb.stats()).by_route
    assert.are.equal(3, d["GET /api/v2/routing/queues"])
    assert.are.equal(0, d["GET /api/v2/routing/queues/{}"] or 0)
    assert.are.equal(60, d["GET /api/v2/routing/queues/{}/members"])
    -- every agent read once: at most one partly filled call per window
    assert.is_true(d["GET /api/v2/users"] <= math.ceil(n / 100) + #windows - 1, tostring(d["GET /api/v2/users"]))
  end)
end)
