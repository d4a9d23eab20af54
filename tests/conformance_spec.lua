-- The dialect contract (lua/gcrun/api/init.lua), checked the same way
-- against both dialects on the sandbox: the same cases, the same
-- expectations, whatever the wire format.
local api_of = require "gcrun.api"
local definitions = require "gcrun.definitions"
local h = require "tests.helpers"
local http = require "gcrun.http"
local json = require "gcrun.json"
local oauth = require "gcrun.oauth"

local ORG = json.decode(h.read(h.srcdir .. "/examples/sandbox-org.json"))
local BILLING, ADA, GRACE, ENGLISH = ORG.queues[1], ORG.users[1], ORG.users[2], ORG.skills[1]
local FLOW = "example-flow-id"     -- routes to Billing; both dialects can edit it

local function definition(fields)
  local raw = { queue_id = BILLING.id, name = "Billing (conformance)", description = "checked in both dialects",
    members = { [ADA.id] = 2, [GRACE.id] = 1 }, skills = { [ENGLISH.id] = 3 }, wrap_up_policy = "required",
    acw_timer_required = true, acw_timeout = 120 }
  for k, v in pairs(fields or {}) do raw[k] = v end
  -- the tutorial's defaults, as --api tutorial implies them (outbound_queue)
  local def, c = definitions.parse(json.encode(raw), "conformance.json", { defaults = "tutorial" })
  assert(def, c.errors[1] and c.errors[1].reason)
  def.findings = nil
  return def
end

local function ids(list)
  local out = {}
  for _, x in ipairs(list) do out[#out + 1] = type(x) == "table" and (x.member or x.id or x.user) or x end
  table.sort(out)
  return out
end

for _, dialect in ipairs(api_of.DIALECTS) do
  describe("the " .. dialect .. " dialect", function()
    local sb, api

    before_each(function()
      sb = h.sandbox()
      local _, creds = oauth.resolve { base_url = sb.url .. (dialect == "tutorial" and "/tutorial" or ""),
        client_id = sb.client_id, client_secret = sb.client_secret, env_file = false,
        token = require("gcrun.api." .. dialect).token }
      local client = http.client { base_url = sb.url .. (dialect == "tutorial" and "/tutorial" or ""), auth = creds,
        max_attempts = 1, concurrency = 8 }
      api = api_of.new(dialect, client, {})
      assert.equal(dialect, require("gcrun.api." .. dialect).name)
      api:scope():prepare()
    end)
    after_each(function() sb.stop() end)

    it("reads a queue with its members", function()
      local current = api:scope():read(definition())
      assert.equal(BILLING.name, current.queue.name)
      local want = {}
      for _, q in ipairs(sb.org().queues) do
        if q.id == BILLING.id then for _, m in ipairs(q._members) do want[#want + 1] = m.id end end
      end
      assert.is_true(#want > 0)
      table.sort(want)
      assert.same(want, ids(current.members))
      for _, m in ipairs(current.members) do assert.equal("number", type(m.ringNumber)) end
      assert.is_table(current.flows)
    end)

    it("raises not_found for a queue the org does not have", function()
      local ok, err = pcall(api.read, api:scope(), definition { queue_id = "00000000-0000-4000-8000-0000000000ff" })
      assert.is_false(ok)
      assert.equal("not_found", err.code)
      assert.equal("queue 00000000-0000-4000-8000-0000000000ff does not exist in this org", err.message)
    end)

    it("plans in the record vocabulary, writes, and then plans nothing", function()
      local scoped = api:scope()
      local def = definition()
      local current = scoped:read(def)
      local before = json.copy(current)
      local plan = scoped:plan(def, current)
      assert.same({}, plan.problems)
      assert.is_false(plan.empty)
      local fields = {}
      for _, c in ipairs(plan.fields_changed) do fields[c.field] = c end
      assert.same({ before = BILLING.name, after = "Billing (conformance)" }, { before = fields.name.before,
        after = fields.name.after })
      assert.same({ ADA.id }, ids(plan.ring_changes))
      local ring = plan.ring_changes[1]
      assert.equal(2, ring.after)
      for _, a in ipairs(plan.skill_assignments) do
        for _, s in ipairs(a.skills) do assert.equal("number", type(s.level)); assert.is_nil(s.proficiency) end
      end
      scoped:execute(def.queue_id, plan, current)
      assert.is_true(scoped.counters.writes > 0)

      local outcome = scoped:outcome(before, current)
      assert.is_false(outcome.empty)
      assert.same({ ADA.id }, ids(outcome.ring_changes))

      local again = api:scope()
      local after = again:read(def)
      assert.equal("Billing (conformance)", after.queue.name)
      local rings = {}
      for _, m in ipairs(after.members) do rings[m.id] = m.ringNumber end
      assert.same({ [ADA.id] = 2, [GRACE.id] = 1 }, rings)
      assert.is_true(again:plan(def, after).empty)
    end)

    it("says an unknown skill is one, by kind, when planning or when the service refuses it", function()
      local scoped = api:scope()
      local def = definition { skills = { [ENGLISH.id] = 3, ["ghost-skill"] = 2 } }
      local current = scoped:read(def)
      local plan = scoped:plan(def, current)
      local found = plan.problems
      if #found == 0 then
        local ok, err = pcall(scoped.execute, scoped, def.queue_id, plan, current)
        assert.is_false(ok)
        assert.equal("rejected", err.code)
        found = err.problems
      end
      local kinds = {}
      for _, p in ipairs(found) do kinds[#kinds + 1] = p.kind .. " " .. tostring(p.entity) end
      assert.same({ "unknown-skill ghost-skill" }, kinds)
    end)

    it("plans a flow edit under --dry-run, edits it once, then finds it in step", function()
      local queues = { { id = BILLING.id, name = "Billing (renamed)" } }
      local planned = api:scope():edit_flow(FLOW, queues, { dry_run = true })
      assert.equal("planned", planned.status)
      assert.equal(FLOW, planned.id)
      assert.same({ "queueName" }, (function()
        local f = {}
        for _, c in ipairs(planned.changes) do if c.queue == BILLING.id and c.field == "queueName" then f[#f + 1] = c.field end end
        return f
      end)())
      local edited = api:scope():edit_flow(FLOW, queues, {})
      assert.equal("updated", edited.status)
      assert.equal(planned.old_version + 1, edited.new_version)
      assert.is_table(edited.counters)
      local again = api:scope():edit_flow(FLOW, queues, {})
      assert.equal("unchanged", again.status)
      assert.equal(edited.new_version, again.old_version)
    end)
  end)
end
