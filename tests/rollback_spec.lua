-- queue-rollback and queue-sync --check, run as a user runs them, against
-- sandbox orgs; and the comparison they rest on (gcrun.rollback_plan).
local h = require "tests.helpers"
local json = require "gcrun.json"
local plans = require "gcrun.rollback_plan"

local EXAMPLES = h.srcdir .. "/examples/queues"
local ORG = json.decode(h.read(h.srcdir .. "/examples/sandbox-org.json"))
local BILLING, SALES = ORG.queues[1].id, ORG.queues[3].id

-- What rollback restores, field by field: each queue (less what the
-- service keeps itself), its members with their ring numbers, each agent's
-- skills, each flow's Queue nodes.
-- A queue stored without a division is in the home division, as the API
-- shows it; a division is told by its id.
local function state_of(org)
  local s = {}
  local home
  for _, d in ipairs(org.divisions or {}) do if d.homeDivision or not home then home = d.id end end
  for _, q in ipairs(org.queues) do
    local copy, members = {}, {}
    for k, v in pairs(q) do
      if k:sub(1, 1) ~= "_" and k ~= "version" and k ~= "dateModified" and k ~= "modifiedBy" then copy[k] = v end
    end
    copy.division = q.division and q.division.id or home
    for _, m in ipairs(q._members) do members[m.id] = m.ringNumber end
    s["queue " .. q.id], s["members of " .. q.id] = copy, members
  end
  for _, u in ipairs(org.users) do
    local skills = {}
    for _, x in ipairs(u.skills) do skills[x.id] = x.proficiency end
    s["skills of " .. u.id] = skills
  end
  for _, f in ipairs(org.flows) do
    local nodes = {}
    for _, n in ipairs(f.configuration.nodes) do if n.type == "Queue" then nodes[n.id] = n.config end end
    s["queue nodes of " .. f.id] = nodes
  end
  return s
end

local function no_locks(org)
  for _, f in ipairs(org.flows) do
    assert.is_nil(f.lockedClient, f.name .. " left locked")
    assert.is_nil(f.lockedUser, f.name .. " left locked")
  end
end

-- Requests that change the org: a user search is a POST that only reads.
local function writes(stats)
  local m = stats.by_method
  return (m.PUT or 0) + (m.POST or 0) + (m.PATCH or 0) + (m.DELETE or 0)
    - (stats.by_route["POST /api/v2/users/search"] or 0)
end

local function by_queue(report, id)
  for _, c in ipairs(report.changes) do if c.queue_id == id then return c end end
end

describe("queue-rollback on the example org", function()
  local sb, dir

  before_each(function()
    sb = h.sandbox()
    dir = h.tmpdir()
  end)
  after_each(function()
    sb.stop()
    h.rmtree(dir)
  end)

  local function run(args)
    local r = sb.run(args)
    local report
    for i, a in ipairs(args) do if a == "--report" then report = args[i + 1] end end
    local ok, doc = pcall(function() return json.decode(h.read(report)) end)
    r.report = ok and doc or nil
    return r
  end
  local function sync(extra)
    local args = { "queue-sync", "--report", dir .. "/sync.json" }
    for _, a in ipairs(extra or { EXAMPLES }) do args[#args + 1] = a end
    return run(args)
  end
  local function rollback(source, extra, report)
    local args = { "queue-rollback", "--report", dir .. "/" .. (report or "rollback.json") }
    for _, a in ipairs(extra or {}) do args[#args + 1] = a end
    args[#args + 1] = source
    return run(args)
  end

  it("restores the org as it was before the sync, field by field, and a rollback of it restores the sync", function()
    -- ring numbers other than 1 before the sync: one of a member the sync
    -- removes, one the sync sets to 1
    local rings = h.write(dir .. "/rings.lua", [[
      local gc = require "gcrun"
      local queue, removed, kept = ...
      gc.patch("/api/v2/routing/queues/" .. queue .. "/members/" .. removed, { ringNumber = 3 })
      gc.patch("/api/v2/routing/queues/" .. queue .. "/members/" .. kept, { ringNumber = 4 })]])
    local removed, kept = ORG.queues[1].members[1].id, ORG.queues[1].members[2].id
    assert.equal(0, sb.run({ rings, BILLING, removed, kept }).status)
    local before = state_of(sb.org())
    assert.equal(3, before["members of " .. BILLING][removed])
    local s = sync()
    assert.equal(0, s.status, s.stderr)
    local synced = state_of(sb.org())
    assert.are_not.same(before, synced)
    -- the sync had all the kinds of change to undo
    local billing = by_queue(s.report, BILLING)
    assert.is_true(#billing.validation_corrections > 0)
    assert.is_true(#billing.members_added > 0 and #billing.members_removed > 0)
    assert.equal(#billing.members_removed, #billing.ring_numbers_removed)
    assert.is_nil(synced["members of " .. BILLING][removed])
    assert.equal(1, synced["members of " .. BILLING][kept])
    assert.is_true(#billing.skill_assignments > 0)
    assert.equal(ORG.org.id, s.report.run.org_id)
    local changed_level, ring_back = false, false
    for _, c in ipairs(s.report.changes) do
      for _, a in ipairs(c.skill_assignments) do
        for _, sk in ipairs(a.skills) do
          assert.is_true(sk.added == true and sk.before == nil or type(sk.before) == "number")
          if sk.before then changed_level = true end
        end
      end
      for _, r in ipairs(c.ring_numbers) do if r.before ~= 1 then ring_back = true end end
    end
    assert.is_true(changed_level, "no agent had a skill's level changed")
    assert.is_true(ring_back, "no ring number other than 1 to restore")
    assert.is_true(s.report.run.flows_updated > 0)

    local r = rollback(dir .. "/sync.json")
    assert.equal(0, r.status, r.stderr)
    assert.matches("rolled back%s+Billing & Payments", r.stdout)
    assert.matches("flow Inbound 01 %(%x+%): version 2 %-> 3", r.stdout)
    local org = sb.org()
    assert.same(before, state_of(org))
    no_locks(org)
    for _, f in ipairs(org.flows) do
      if f.id == ORG.flows[1].id then assert.equal(3, f.publishedVersion) end   -- a new version, published
    end
    assert.equal("rollback", r.report.run.kind)
    assert.equal(ORG.org.id, r.report.run.org_id)

    local again = rollback(dir .. "/rollback.json", nil, "rollback2.json")
    assert.equal(0, again.status, again.stderr)
    org = sb.org()
    assert.same(synced, state_of(org))
    no_locks(org)
  end)

  it("leaves what changed since the run alone and shows how, unless --force", function()
    local before = state_of(sb.org())
    assert.equal(0, sync().status)
    -- someone edits Billing's description and an agent's skill after the run
    local billing = by_queue(json.decode(h.read(dir .. "/sync.json")), BILLING)
    local agent = billing.skill_assignments[1]
    local skill = agent.skills[1]
    local edit = h.write(dir .. "/edit.lua", [[
      local gc = require "gcrun"
      local queue, user, skill = ...
      local q = gc.get("/api/v2/routing/queues/" .. queue)
      q.description = "edited by hand"
      gc.put("/api/v2/routing/queues/" .. queue, q)
      gc.patch("/api/v2/users/" .. user .. "/routingskills/bulk", { { id = skill, proficiency = 1 } })]])
    assert.equal(0, sb.run({ edit, BILLING, agent.user, skill.id }).status)
    local edited = state_of(sb.org())

    local r = rollback(dir .. "/sync.json")
    assert.equal(1, r.status, r.stderr)
    assert.matches("rolled back%s+Billing & Payments %(8b5a7400%)  skills for 2 agents; left alone, changed since "
      .. "the run %(%-%-force rolls back%): description, agent " .. agent.user:gsub("%p", "%%%0"), r.stdout)
    assert.matches('description: the run left "Invoices, payments and refunds", now "edited by hand"', r.stdout, 1,
      true)
    assert.matches("skill " .. skill.id:gsub("%p", "%%%0") .. ": the run left " .. skill.level, r.stdout)
    local org = state_of(sb.org())
    assert.matches("left alone%s+1  %(queues with changes made since the run", r.stdout)
    assert.same(edited["queue " .. BILLING], org["queue " .. BILLING])
    assert.same(edited["members of " .. BILLING], org["members of " .. BILLING])
    assert.same(edited["skills of " .. agent.user], org["skills of " .. agent.user])
    assert.same(before["queue " .. SALES], org["queue " .. SALES])     -- the rest was rolled back
    local rec = by_queue(r.report, BILLING)
    assert.equal("updated", rec.status)     -- its other agents were restored
    local whats = {}
    for _, d in ipairs(rec.differences) do whats[#whats + 1] = d.what end
    assert.same({ "description", "agent " .. agent.user .. ": skill " .. skill.id }, whats)

    local forced = rollback(dir .. "/sync.json", { "--force" }, "forced.json")
    assert.equal(0, forced.status, forced.stderr)
    assert.matches("rolled back%s+Billing & Payments %(8b5a7400%)  acwSettings, description, name; %+3 %-2 members, skills for 1 agent; "
      .. "rolled back over "
      .. "changes made since the run %(%-%-force%): description", forced.stdout)
    assert.same(before, state_of(sb.org()))
  end)

  it("leaves a flow whose Queue node was edited since the run alone, unless --force", function()
    local before = state_of(sb.org())
    assert.equal(0, sync().status)
    local flow = ORG.flows[1].id
    local edit = h.write(dir .. "/flow.lua", [[
      local gc = require "gcrun"
      local flow = ...
      gc.post("/api/v2/flows/actions/checkout", nil, { flow = flow })
      local cfg = gc.get("/api/v2/flows/" .. flow .. "/latestconfiguration")
      for _, n in ipairs(cfg.nodes) do
        if n.id == "to-1" then n.config.queueName = "Billing (edited)" end
      end
      local saved = gc.post("/api/v2/flows/" .. flow .. "/versions", cfg)
      gc.post("/api/v2/flows/actions/publish", nil, { flow = flow, version = saved.id })
      gc.post("/api/v2/flows/actions/checkin", nil, { flow = flow })]])
    local e = sb.run { edit, flow }
    assert.equal(0, e.status, e.stderr)
    local r = rollback(dir .. "/sync.json")
    assert.equal(1, r.status, r.stderr)
    assert.matches("flow Inbound 01 %(%x+%): conflict, left alone", r.stdout)
    assert.matches('node to%-1 queueName: the run left "Billing & Payments", now "Billing %(edited%)"', r.stdout)
    local org = sb.org()
    no_locks(org)
    assert.equal("Billing (edited)", state_of(org)["queue nodes of " .. flow]["to-1"].queueName)
    assert.same(before["queue nodes of " .. ORG.flows[2].id], state_of(org)["queue nodes of " .. ORG.flows[2].id])
    local forced = rollback(dir .. "/sync.json", { "--force" }, "forced.json")
    assert.equal(0, forced.status, forced.stdout .. forced.stderr)
    assert.same(before, state_of(sb.org()))
  end)

  it("shows the plan with --dry-run and sends nothing; a dry run's report is refused", function()
    assert.equal(0, sync().status)
    local writes_before = writes(sb.stats())
    local r = rollback(dir .. "/sync.json", { "--dry-run" }, "plan.json")
    assert.equal(0, r.status, r.stderr)
    assert.matches("would roll back%s+Billing & Payments", r.stdout)
    assert.matches("description: \"Invoices, payments and refunds\" %-> \"Calls about billing\"", r.stdout)
    assert.matches("flow Inbound 01 %(%x+%) would be restored: node to%-1 queueName \"Billing & Payments\" %-> "
      .. "\"Billing\"", r.stdout)
    assert.equal(writes_before, writes(sb.stats()))
    assert.is_true(r.report.run.dry_run)

    local refused = rollback(dir .. "/plan.json", nil, "x.json")
    assert.equal(2, refused.status)
    assert.matches("plan%.json is the plan of a dry run: it changed nothing", refused.stderr)
    local plan_sync = run { "queue-sync", "--dry-run", "--report", dir .. "/sync-plan.json", EXAMPLES }
    assert.equal(0, plan_sync.status)
    refused = rollback(dir .. "/sync-plan.json", nil, "y.json")
    assert.equal(2, refused.status)
    assert.matches("is the plan of a dry run", refused.stderr)
    assert.equal(writes_before, writes(sb.stats()))
  end)

  it("rolls back what an interrupted run did, and only that", function()
    local before = state_of(sb.org())
    assert.equal(0, sync().status)
    -- as if the run had stopped in Billing after renaming it, before its
    -- description: the record holds what it meant to do, the org only part
    local doc = json.decode(h.read(dir .. "/sync.json"))
    doc.run.status = "interrupted"
    by_queue(doc, BILLING).status = "interrupted"
    h.write(dir .. "/interrupted.json", json.encode(doc))
    local undo = h.write(dir .. "/undo.lua", [[
      local gc = require "gcrun"
      local q = gc.get("/api/v2/routing/queues/" .. ...)
      q.description = "Calls about billing"
      gc.put("/api/v2/routing/queues/" .. q.id, q)]])
    assert.equal(0, sb.run({ undo, BILLING }).status)
    local r = rollback(dir .. "/interrupted.json")
    assert.equal(0, r.status, r.stderr)
    assert.matches("was interrupted: rolling back what it did", r.stderr)
    local fields = {}
    for _, f in ipairs(by_queue(r.report, BILLING).fields_changed) do fields[f.field] = true end
    assert.is_nil(fields.description)      -- already at its value before the run
    assert.is_true(fields.name)
    assert.same(before, state_of(sb.org()))
  end)

  it("lists the queues the run created, and deletes them only with --delete-created and no flow using them", function()
    assert.equal(0, sync().status)
    local doc = json.decode(h.read(dir .. "/sync.json"))
    by_queue(doc, SALES).created = true
    h.write(dir .. "/created.json", json.encode(doc))
    local r = rollback(dir .. "/created.json", { "--dry-run" }, "plan.json")
    assert.equal(0, r.status, r.stderr)
    assert.matches("Sales %(612e00da%) was created by the run: left in place %(%-%-delete%-created deletes it%)",
      r.stdout)
    r = rollback(dir .. "/created.json", { "--delete-created" })
    assert.equal(0, r.status, r.stderr)
    assert.matches("Sales %(612e00da%) is not deleted: flows still route to it %(Inbound 01", r.stdout)
    local kept = by_queue(r.report, SALES)
    assert.is_true(kept.created)
    local present = false
    for _, q in ipairs(sb.org().queues) do if q.id == SALES then present = true end end
    assert.is_true(present)
  end)

  it("gives back a skill the run took away (level 0)", function()
    local grace = ORG.users[2]
    local skill = grace.skills[1]
    local before = state_of(sb.org())
    h.write(dir .. "/remove.json", json.encode { queue_id = BILLING, members = { [grace.id] = 1 },
      skills = { [skill.id] = 0 } })
    local s = sync { dir .. "/remove.json" }
    assert.equal(0, s.status, s.stderr)
    assert.is_nil(state_of(sb.org())["skills of " .. grace.id][skill.id])
    local r = rollback(dir .. "/sync.json")
    assert.equal(0, r.status, r.stdout .. r.stderr)
    assert.same(before, state_of(sb.org()))
  end)

  it("deletes a queue the run created with --delete-created, and keeps it without", function()
    h.write(dir .. "/new.json", json.encode { name = "Brand New Queue", description = "made by the run",
      members = { [ORG.users[1].id] = 2 } })
    local s = sync { dir .. "/new.json" }
    assert.equal(0, s.status, s.stderr)
    local created = s.report.changes[1]
    assert.is_true(created.created)
    local function exists()
      for _, q in ipairs(sb.org().queues) do if q.id == created.queue_id then return true end end
      return false
    end
    local r = rollback(dir .. "/sync.json")
    assert.equal(0, r.status, r.stdout .. r.stderr)
    assert.equal("kept", r.report.changes[1].status)
    assert.is_true(exists())
    r = rollback(dir .. "/sync.json", { "--delete-created" }, "deleted.json")
    assert.equal(0, r.status, r.stdout .. r.stderr)
    assert.matches("deleted%s+Brand New Queue", r.stdout)
    assert.equal("deleted", r.report.changes[1].status)
    assert.is_false(exists())
  end)

  it("refuses another org's report, a report without an org, and the tutorial dialect", function()
    assert.equal(0, sync().status)
    local doc = json.decode(h.read(dir .. "/sync.json"))
    -- the same report, against another org
    local org_path = h.org_file(dir, { queues = 3, flows = 1, name = "Another org", seed = 7 })
    local other = h.sandbox { org = org_path }
    local r = other.run { "queue-rollback", "--report", dir .. "/x.json", dir .. "/sync.json" }
    local other_writes = writes(other.stats())
    other.stop()
    assert.equal(2, r.status)
    assert.matches("sync%.json is a report of org " .. ORG.org.id:gsub("%p", "%%%0") .. " %(Example Org %(gcrun "
      .. "sandbox%)%); this is org %x+%-[%x%-]+ %(Another org%): refused", r.stderr)
    assert.equal(0, other_writes)
    local writes_before = writes(sb.stats())
    doc.run.org_id = nil
    h.write(dir .. "/old.json", json.encode(doc))
    r = rollback(dir .. "/old.json")
    assert.equal(2, r.status)
    assert.matches("old%.json: run%.org_id: the report does not say which org it changed", r.stderr)
    r = sb.run { "queue-rollback", "--api", "tutorial", "--base-url", sb.url .. "/tutorial", "--report",
      dir .. "/t.json", dir .. "/sync.json" }
    assert.equal(2, r.status)
    assert.matches("queue%-rollback speaks the platform dialect only", r.stderr)
    assert.equal(writes_before, writes(sb.stats()))
  end)

  it("accounts in its report for every request it made; a queue the run failed needs no rollback", function()
    h.write(dir .. "/missing.json", json.encode { queue_id = "00000000-0000-4000-8000-00000000abcd", name = "Nope", members = {},
      skills = {} })
    local before = state_of(sb.org())
    local s = sync { EXAMPLES .. "/billing.json", dir .. "/missing.json" }
    assert.equal(1, s.status)
    assert.equal("failed", s.report.changes[2].status)
    local function seen()
      local n = 0
      for _, c in pairs(sb.stats().by_method) do n = n + c end
      return n
    end
    local start = seen()
    local r = rollback(dir .. "/sync.json")
    assert.equal(0, r.status, r.stdout .. r.stderr)
    assert.equal("unchanged", by_queue(r.report, "00000000-0000-4000-8000-00000000abcd").status)
    assert.equal(seen() - start, r.report.run.requests)
    assert.same(before, state_of(sb.org()))
  end)

  it("names the field of a report it cannot read", function()
    assert.equal(0, sync().status)
    local doc = json.decode(h.read(dir .. "/sync.json"))
    local rec = by_queue(doc, BILLING)
    rec.skill_assignments[1].skills[1].level = "high"
    h.write(dir .. "/bad.json", json.encode(doc))
    local r = rollback(dir .. "/bad.json")
    assert.equal(2, r.status)
    assert.matches("bad%.json: changes%[1%]%.skill_assignments%[1%]%.skills%[1%]%.level: must be a number", r.stderr)
    rec.skill_assignments[1].skills[1].level = 4
    local rings = rec.ring_numbers_removed
    rec.ring_numbers_removed = nil
    h.write(dir .. "/bad.json", json.encode(doc))
    r = rollback(dir .. "/bad.json")
    assert.equal(2, r.status)
    assert.matches("bad%.json: changes%[1%]%.members_removed%[1%]: no ring number for the removed member %S+ recorded",
      r.stderr)
    rec.ring_numbers_removed = rings
    doc.changes[2] = rec
    h.write(dir .. "/bad.json", json.encode(doc))
    r = rollback(dir .. "/bad.json")
    assert.equal(2, r.status)
    assert.matches("bad%.json: changes%[2%]%.queue_id: queue 8b5a7400%-cca4%-4239%-9271%-5e22c8399ed5 is also "
      .. "changes%[1%]", r.stderr)
    r = rollback(dir .. "/sync.json", nil, "../" .. dir:match("[^/]+$") .. "/sync.json")
    assert.equal(2, r.status)
    assert.matches("is the report being rolled back", r.stderr)
  end)
end)

describe("queue-rollback under faults and other users' flow locks", function()
  it("converges to the org before the sync and leaves no lock", function()
    local dir = h.tmpdir()
    for seed = 1, 2 do
      local sb = h.sandbox { faults = { ["503"] = 0.1, drop = 0.1, ["429"] = 0.1 }, flow_editor = 0.3,
        flow_locks = 0.5, seed = seed }
      local before = state_of(sb.org())
      local s = sb.run { "queue-sync", "--report", dir .. "/sync.json", EXAMPLES }
      assert.equal(0, s.status, s.stderr)
      local r = sb.run { "queue-rollback", "--report", dir .. "/rollback.json", dir .. "/sync.json" }
      local org, stats = sb.org(), sb.stats()
      sb.stop()
      assert.equal(0, r.status, r.stderr)
      assert.is_true(stats.lock_conflicts > 0)
      assert.same(before, state_of(org))
      no_locks(org)
    end
    h.rmtree(dir)
  end)
end)

describe("queue-sync --check", function()
  local sb, dir
  before_each(function() sb, dir = h.sandbox(), h.tmpdir() end)
  after_each(function() sb.stop(); h.rmtree(dir) end)

  it("exits 5 on a drifted org and 0 on a converged one, sending no write and no more than a rerun", function()
    local w = writes(sb.stats())
    local r = sb.run { "queue-sync", "--check", "--report", dir .. "/c.json", EXAMPLES }
    assert.equal(5, r.status, r.stderr)
    assert.matches("drift: 5 queues and 5 flows differ from the definitions", r.stdout)
    assert.matches("plan for Billing & Payments", r.stdout)
    assert.equal(w, writes(sb.stats()))

    assert.equal(0, sb.run({ "queue-sync", "--report", dir .. "/s.json", EXAMPLES }).status)
    local requests = sb.stats().requests
    assert.equal(0, sb.run({ "queue-sync", "--report", dir .. "/s2.json", EXAMPLES }).status)
    local rerun = sb.stats().requests - requests
    w = writes(sb.stats())
    r = sb.run { "queue-sync", "--check", "--output", "json", "--report", dir .. "/c2.json", EXAMPLES }
    assert.equal(0, r.status, r.stderr)
    local doc = json.decode(r.stdout)
    assert.is_false(doc.run.check.drifted)
    assert.same({}, doc.run.check.queues)
    assert.matches("no drift: the org matches the definitions", r.stderr)
    assert.equal(w, writes(sb.stats()))
    assert.is_true(sb.stats().requests - requests - rerun <= rerun)
  end)

  it("works in the tutorial dialect too", function()
    local tutorial = h.srcdir .. "/examples/tutorial"
    local function run(...)
      return sb.run { "queue-sync", "--api", "tutorial", "--base-url", sb.url .. "/tutorial", ... }
    end
    local r = run("--check", "--report", dir .. "/c.json", tutorial)
    assert.equal(5, r.status, r.stderr)
    assert.equal(0, run("--report", dir .. "/s.json", tutorial).status)
    r = run("--check", "--report", dir .. "/c2.json", tutorial)
    assert.equal(0, r.status, r.stdout .. r.stderr)
  end)

  it("says which queues drifted in JSON, and exits 1 when the check fails", function()
    local r = sb.run { "queue-sync", "--check", "--output", "json", "--report", dir .. "/c.json", EXAMPLES }
    assert.equal(5, r.status, r.stderr)
    local check = json.decode(r.stdout).run.check
    assert.is_true(check.drifted)
    assert.equal(5, #check.queues)
    h.write(dir .. "/missing.json", json.encode { queue_id = "00000000-0000-4000-8000-00000000abcd", name = "Nope", members = {},
      skills = {} })
    r = sb.run { "queue-sync", "--check", "--report", dir .. "/c3.json", dir .. "/missing.json" }
    assert.equal(1, r.status, r.stderr)
  end)
end)

describe("gcrun.rollback_plan", function()
  local target = {
    id = "q", fields = { { field = "name", before = "Old", after = "New" } },
    added = { { member = "a", ring = 2 } }, removed = { { member = "r", ring = 3 } },
    rings = { { member = "k", before = 1, after = 4 } },
  }

  it("restores what is at its after-value, skips what is at its before-value, and flags the rest", function()
    local p = plans.queue(target, { queue = { name = "New" }, members = { a = 2, k = 4 } })
    assert.equal("revert", p.status)
    assert.same({ { field = "name", from = "New", to = "Old" } }, p.fields)
    assert.same({ { member = "a", ring = 2 } }, p.remove)
    assert.same({ { member = "r", ring = 3 } }, p.add)
    assert.same({ { member = "k", from = 4, to = 1 } }, p.rings)
    p = plans.queue(target, { queue = { name = "Old" }, members = { r = 3, k = 1 } })
    assert.equal("unchanged", p.status)
    p = plans.queue(target, { queue = { name = "Other" }, members = { a = 2, k = 4 } })
    assert.equal("conflict", p.status)
    assert.same({ { what = "name", expected = "New", found = "Other" } }, p.differences)
    p = plans.queue(target, { queue = { name = "Other" }, members = { a = 2, k = 4 } }, true)
    assert.equal("revert", p.status)
    assert.same({ { field = "name", from = "Other", to = "Old" } }, p.fields)
    assert.equal("gone", plans.queue(target, nil).status)
  end)

  it("takes a member left at ring 1 by a run stopped before its ring number as the run's", function()
    local now = { queue = { name = "New" }, members = { a = 1, k = 4 } }
    assert.equal("conflict", plans.queue(target, now).status)
    local partial = setmetatable({ partial = true }, { __index = target })
    local p = plans.queue(partial, now)
    assert.equal("revert", p.status)
    assert.same({ { member = "a", ring = 1 } }, p.remove)
  end)

  it("puts skills back: a level, or removed where the run added it", function()
    local t = { user = "u", skills = { { id = "s1", before = 2, after = 4 }, { id = "s2", after = 3 } } }
    local p = plans.agent(t, { skills = { s1 = 4.0, s2 = 3 } })
    assert.same({ { id = "s1", from = 4.0, to = 2 } }, p.set)
    assert.same({ { id = "s2", from = 3 } }, p.delete)
    assert.equal("conflict", plans.agent(t, { skills = { s1 = 5 } }).status)
  end)

  it("restores flow nodes idempotently, as the lock protocol's loop needs", function()
    local t = { id = "f", nodes = { { node = "n1", queue = "q", field = "queueName", before = "Old", after = "New" } } }
    local config = { nodes = { { id = "n1", type = "Queue", config = { queueId = "q", queueName = "New" } } } }
    local p = plans.flow(t, config)
    assert.equal("revert", p.status)
    assert.equal("New", config.nodes[1].config.queueName)   -- the plan edits a copy
    local changes = plans.restore_nodes(config, t)
    assert.same({ { node = "n1", queue = "q", field = "queueName", before = "New", after = "Old" } }, changes)
    assert.same({}, plans.restore_nodes(config, t))
    config.nodes[1].config.queueName = "Someone's"
    assert.equal("conflict", plans.flow(t, config).status)
    assert.same({}, plans.restore_nodes(config, t))
  end)
end)

describe("the sandbox routes queue-rollback uses", function()
  local launch = require "gcrun.sandbox.launch"
  local http = require "gcrun.http"
  local oauth = require "gcrun.oauth"
  local sb, c
  before_each(function()
    sb = launch.start { org = h.srcdir .. "/examples/sandbox-org.json", state = false }
    local _, creds = oauth.resolve { base_url = sb.url, client_id = sb.client_id, client_secret = sb.client_secret,
      env_file = false }
    c = http.client { base_url = sb.url, auth = creds, max_attempts = 1 }
  end)
  after_each(function() sb.server:stop() end)

  it("GET /api/v2/organizations/me answers the Organization", function()
    local r = c:request { path = "/api/v2/organizations/me" }
    assert.equal(200, r.status)
    local o = r:json()
    assert.equal(ORG.org.id, o.id)
    assert.equal(ORG.org.name, o.name)
    assert.equal("active", o.state)
    assert.is_number(o.version)
    assert.equal("/api/v2/organizations/" .. ORG.org.id, o.selfUri)
  end)

  it("DELETE .../routingskills/{skillId} removes an agent's skill, 404 when it has none", function()
    local grace = ORG.users[2]          -- an agent with skills
    local skill = grace.skills[1].id
    local path = "/api/v2/users/" .. grace.id .. "/routingskills/" .. skill
    assert.equal(200, c:request({ method = "DELETE", path = path }).status)
    for _, s in ipairs(c:request({ path = "/api/v2/users/" .. grace.id .. "/routingskills" }):json().entities) do
      assert.are_not.equal(skill, s.id)
    end
    local again = c:request { method = "DELETE", path = path }
    assert.equal(404, again.status)
    assert.equal("not.found", again:json().code)
  end)

  it("DELETE /api/v2/routing/queues/{id} removes the queue", function()
    local path = "/api/v2/routing/queues/" .. SALES
    assert.equal(200, c:request({ method = "DELETE", path = path }).status)
    assert.equal(404, c:request({ path = path }).status)
    for _, q in ipairs(c:request({ path = "/api/v2/routing/queues", query = { pageSize = 100 } }):json().entities) do
      assert.are_not.equal(SALES, q.id)
    end
    assert.equal(404, c:request({ method = "DELETE", path = path }).status)
  end)
end)

describe("queue-rollback and interrupts", function()
  local dir, org_path, defs

  local function env_prefix(sb)
    local unset, set = {}, {}
    for k, v in pairs(sb.env()) do
      if v then set[#set + 1] = k .. "=" .. h.quote(v) else unset[#unset + 1] = "-u " .. k end
    end
    table.sort(unset)
    table.sort(set)
    return "env " .. table.concat(unset, " ") .. " " .. table.concat(set, " ")
  end

  -- Run gcrun with `args`, SIGINT after `delay` seconds; its exit status.
  local function interrupted(sb, args, delay)
    os.remove(dir .. "/status")
    local words = {}
    for _, a in ipairs(args) do words[#words + 1] = h.quote(a) end
    os.execute(string.format("%s %s --base-url %s %s >%s/out 2>&1 & pid=$!; sleep %.2f; kill -INT $pid; wait $pid; "
      .. "echo $? >%s/status", env_prefix(sb), h.quote(h.bin), sb.url, table.concat(words, " "), h.quote(dir), delay,
      h.quote(dir)))
    return tonumber(h.read(dir .. "/status")), h.read(dir .. "/out")
  end

  setup(function()
    dir = h.tmpdir()
    org_path = h.org_file(dir, { users = 80, skills = 10, queues = 30, flows = 6, queues_per_flow = 5 })
    local org = json.decode(h.read(org_path))
    os.execute("mkdir -p " .. h.quote(dir .. "/defs"))
    for i = 1, 30 do
      local q = org.queues[i]
      h.write(string.format("%s/defs/q%03d.json", dir, i), json.encode { queue_id = q.id, name = q.name .. " (renamed)",
        description = "synced", members = { [org.users[i].id] = 2, [org.users[i + 30].id] = 1 },
        skills = { [org.skills[i % 10 + 1].id] = 3 } })
    end
    defs = dir .. "/defs"
  end)
  teardown(function() h.rmtree(dir) end)

  it("rolls back what an interrupted sync did, whenever it was stopped", function()
    math.randomseed(16)
    for trial = 1, 5 do
      os.remove(dir .. "/state.json")
      local sb = h.sandbox { org = org_path, latency = 40, state = dir .. "/state.json" }
      local before = state_of(sb.org())
      -- the run takes about 2 s here, its flows the last few tenths
      local delay = 0.3 + math.random() * 1.6
      local where = string.format("trial %d (SIGINT after %.2f s)", trial, delay)
      local status, out = interrupted(sb, { "queue-sync", "--report", dir .. "/sync.json", defs }, delay)
      assert.equal(130, status, where .. ": " .. out)
      local report = json.decode(h.read(dir .. "/sync.json"))
      assert.equal("interrupted", report.run.status, where)
      local r = sb.run { "queue-rollback", "--report", dir .. "/rollback.json", dir .. "/sync.json" }
      local org = sb.org()
      sb.stop()
      assert.equal(0, r.status, where .. ": " .. r.stdout .. r.stderr)
      assert.same(before, state_of(org), where)
    end
  end)

  it("an interrupted rollback leaves no lock, and running it again finishes the job", function()
    os.remove(dir .. "/state.json")
    local sb = h.sandbox { org = org_path, latency = 40, state = dir .. "/state.json" }
    local before = state_of(sb.org())
    local s = sb.run { "queue-sync", "--report", dir .. "/sync.json", defs }
    assert.equal(0, s.status, s.stderr)
    local status, out = interrupted(sb, { "queue-rollback", "--report", dir .. "/rollback.json", dir .. "/sync.json" },
      1.0)
    assert.equal(130, status, out)
    assert.equal("interrupted", json.decode(h.read(dir .. "/rollback.json")).run.status)
    no_locks(sb.org())
    local r = sb.run { "queue-rollback", "--report", dir .. "/rollback2.json", dir .. "/sync.json" }
    local org = sb.org()
    sb.stop()
    assert.equal(0, r.status, r.stdout .. r.stderr)
    assert.same(before, state_of(org))
    no_locks(org)
  end)
end)
