-- The engine's pieces as a library (gcrun.sync, gcrun.sync_flows,
-- gcrun.skill_levels, gcrun.result), without a network.
local records = require "gcrun.result"
local skill_levels = require "gcrun.skill_levels"
local sync = require "gcrun.sync"
local sync_flows = require "gcrun.sync_flows"

local function def(file, queue_id, members, skills, flows)
  local d = { file = file, queue_id = queue_id, name = queue_id .. " name", members = {}, skills = {},
    flows = flows or {} }
  for _, m in ipairs(members) do d.members[#d.members + 1] = { id = m, priority = 1 } end
  for id, level in pairs(skills) do d.skills[#d.skills + 1] = { id = id, level = level } end
  return d
end

describe("gcrun.skill_levels", function()
  it("settles an agent's skill asked at two levels on the highest, and leaves the others alone", function()
    local levels = skill_levels.settle {
      def("a.json", "q1", { "ada", "grace" }, { english = 2, billing = 4 }),
      def("b.json", "q2", { "ada" }, { english = 5, billing = 4 }),
    }
    assert.same({ ada = { english = 5 } }, levels)
  end)
end)

describe("gcrun.sync_flows.group", function()
  local function rec(d, status, final_name, consumers)
    local r = records.queue(d)
    r.status, r.final_name, r.consumers = status, final_name, consumers
    return r
  end

  it("groups the settled queues by flow, once each, leaving failed queues out", function()
    local q1 = rec(def("a.json", "q1", {}, {}, { "f1" }), "updated", "Q1 now", { { id = "f1" }, { id = "f2" } })
    local q2 = rec(def("b.json", "q2", {}, {}), "failed", "Q2", { { id = "f1" } })
    local q3 = rec(def("c.json", "q3", {}, {}), "unchanged", "Q3", {})
    local by_flow, order = sync_flows.group({ q1, q2, q3 }, { extra_flows = { "f3" } })
    assert.same({ "f1", "f2", "f3" }, order)
    assert.same({ { id = "q1", name = "Q1 now", record = q1 } }, by_flow.f1)
    assert.same({ { id = "q1", name = "Q1 now", record = q1 } }, by_flow.f2)
    assert.same({ { id = "q1", name = "Q1 now", record = q1 }, { id = "q3", name = "Q3", record = q3 } }, by_flow.f3)
  end)

  it("names a queue as planned under a dry run", function()
    local q = rec(def("a.json", "q1", {}, {}, { "f1" }), "planned", "old name", {})
    local by_flow = sync_flows.group({ q }, { dry_run = true })
    assert.equal("q1 name", by_flow.f1[1].name)
  end)
end)

describe("gcrun.sync.exit_status", function()
  local function doc(counts, flows_failed, skipped)
    return { run = { counts = counts, flows_failed = flows_failed or 0 }, skipped_files = skipped or {} }
  end

  it("is 0 when everything converged, 1 when a queue or a flow failed or a file was skipped, 3 for auth", function()
    assert.equal(0, sync.exit_status({ status = "completed", queues = {} }, doc { updated = 2 }))
    assert.equal(1, sync.exit_status({ status = "completed", queues = {} },
      doc({ updated = 2 }, 0, { { file = "bad.json", errors = {} } })))
    assert.equal(1, sync.exit_status({ status = "completed", queues = {} }, doc({ updated = 2 }, 1)))
    assert.equal(1, sync.exit_status({ status = "completed", queues = { { status = "failed", error_code = "http" } } },
      doc { failed = 1 }))
    assert.equal(3, sync.exit_status({ status = "completed", queues = { { status = "failed", error_code = "auth" } } },
      doc { failed = 1 }))
  end)
end)

describe("gcrun.result", function()
  it("notes a plan on a queue's record in the one vocabulary", function()
    local d = def("a.json", "q1", { "ada", "grace" }, { english = 3 })
    local r = records.queue(d)
    assert.same({ file = "a.json", queue_id = "q1", queue_name = "q1 name", status = "not_started" },
      { file = r.file, queue_id = r.queue_id, queue_name = r.queue_name, status = r.status })
    local plan = records.plan({ { field = "name", before = "x", after = "q1 name" } })
    plan.ring_changes[1] = { member = "ada", before = 1, after = 3 }
    assert.is_false(records.is_empty(plan))
    assert.is_true(records.is_empty(records.plan()))
    records.note(r, plan, d)
    assert.same({ { member = "ada", before = 1, after = 3 } }, r.ring_changes)
    assert.same({ { field = "name", before = "x", after = "q1 name" } }, r.fields_changed)
    assert.same({ 2, 1 }, { r.members_assigned, r.skills_assigned })
  end)
end)
