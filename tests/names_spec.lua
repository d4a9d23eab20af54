-- Definitions for a live org (issue 13), end to end on sandbox orgs: an
-- absent key is untouched, references by name, queues created, skills
-- removed, files exported from one org and synced into another.
local h = require "tests.helpers"
local json = require "gcrun.json"

local EXAMPLE_ORG = h.srcdir .. "/examples/sandbox-org.json"

-- writes to the org (the user search is a POST too, and only reads)
local function writes(stats)
  local m = stats.by_method
  return (m.PUT or 0) + (m.POST or 0) + (m.PATCH or 0) + (m.DELETE or 0)
    - (stats.by_route["POST /api/v2/users/search"] or 0)
end

local function named(list, name)
  for _, x in ipairs(list) do if x.name == name then return x end end
end

local function by_id(list, id)
  for _, x in ipairs(list) do if x.id == id then return x end end
end

-- the queue's fields the service sets itself change on every write; a
-- queue without a division is in the home division, which a PUT names
local function settable(q)
  local c = json.copy(q)
  for _, k in ipairs { "version", "dateModified", "modifiedBy", "modifiedByApp", "division" } do c[k] = nil end
  return c
end

local function skills_of(org, user_id)
  local t = {}
  for _, s in ipairs(by_id(org.users, user_id).skills) do t[s.id] = math.tointeger(s.proficiency) or s.proficiency end
  return t
end

local function members_of(q)
  local t = {}
  for _, m in ipairs(q._members or {}) do t[m.id] = m.ringNumber end
  return t
end

describe("definitions on a live org", function()
  local sb, dir

  before_each(function()
    dir = h.tmpdir()
  end)
  after_each(function()
    if sb then sb.stop(); sb = nil end
    h.rmtree(dir)
  end)

  local function start(opts) sb = h.sandbox(opts); return sb end

  local function def(name, t)
    os.execute("mkdir -p " .. h.quote(dir .. "/defs"))
    local path = dir .. "/defs/" .. name .. ".json"
    h.write(path, type(t) == "string" and t or json.encode(t))
    return path
  end

  local function sync(args, on)
    local dry = false
    for _, a in ipairs(args) do if a == "--dry-run" then dry = true end end
    local report = dir .. (dry and "/plan.json" or "/report.json")
    local full = { "queue-sync", "--report", report }
    for _, a in ipairs(args) do full[#full + 1] = a end
    local r = (on or sb).run(full)
    local ok, doc = pcall(function() return json.decode(h.read(report)) end)
    r.report = ok and doc or nil
    return r
  end

  it("changes only the description when a file names only the description", function()
    start()
    local before = sb.org()
    local billing = named(before.queues, "Billing")
    local r = sync { def("billing", { queue_id = billing.id, description = "New words" }) }
    assert.equal(0, r.status, r.stdout .. r.stderr)
    local after = sb.org()
    local now = named(after.queues, "Billing")
    assert.equal("New words", now.description)
    -- everything else as it was: ACW, members and their ring numbers, the agents' skills
    local want = settable(billing)
    want.description = "New words"
    assert.same(want, settable(now))
    assert.same({ timeoutMs = 120000, wrapupPrompt = "MANDATORY_TIMEOUT" }, now.acwSettings)
    assert.same(members_of(billing), members_of(now))
    assert.is_true(next(members_of(now)) ~= nil)
    for _, u in ipairs(before.users) do assert.same(skills_of(before, u.id), skills_of(after, u.id)) end
    assert.equal(1, #r.report.changes[1].fields_changed)
    assert.equal("description", r.report.changes[1].fields_changed[1].field)
  end)

  it("keeps the ACW policy when a file gives only a timeout, and empties members when told to", function()
    start()
    local billing = named(sb.org().queues, "Billing")
    local r = sync { def("billing", { queue_id = billing.id, acw_timeout = 45, members = {} }) }
    assert.equal(0, r.status, r.stdout .. r.stderr)
    local now = named(sb.org().queues, "Billing")
    assert.same({ timeoutMs = 45000, wrapupPrompt = "MANDATORY_TIMEOUT" }, now.acwSettings)
    assert.same({}, members_of(now))
    assert.equal(billing.description, now.description)
  end)

  it("applies the tutorial's defaults with --defaults tutorial", function()
    start()
    local billing = named(sb.org().queues, "Billing")
    local r = sync { "--defaults", "tutorial", def("billing", { queue_id = billing.id }) }
    assert.equal(0, r.status, r.stdout .. r.stderr)
    local now = by_id(sb.org().queues, billing.id)
    assert.equal("Auto-Generated Queue", now.name)
    assert.equal("Updated via automation", now.description)
    assert.same({ timeoutMs = 300000, wrapupPrompt = "MANDATORY_TIMEOUT" }, now.acwSettings)
    assert.same({}, members_of(now))
  end)

  it("refuses a queue by name with --api tutorial before sending anything (its API finds queues by id)", function()
    start()
    local r = sync { "--api", "tutorial", "--base-url", sb.url .. "/tutorial", def("sales", { name = "Sales" }) }
    assert.equal(2, r.status)
    assert.matches("sales%.json: queue_id: is required with %-%-api tutorial", r.stderr)
    assert.equal(0, sb.stats().requests)
  end)

  it("prints levels and ring numbers as integers, however the service wrote them", function()
    local lines = {}
    local log = require "gcrun.log"
    local event = log.event
    log.event = function(_, _, line) lines[#lines + 1] = line end
    local ok, err = pcall(require("gcrun.sync_output").plan, { queue_name = "Billing", queue_id = "q1", file = "f" },
      { fields_changed = {}, members_added = {}, members_removed = {},
        ring_changes = { { member = "u1", before = 2.0, after = 5.0 } },
        skill_assignments = { { user = "u1", skills = { { id = "s1", level = 4.0, before = 2.0 } } } } },
      { users = { u1 = "Ada Lovelace" }, skills = { s1 = "Billing" } })
    log.event = event
    assert(ok, err)
    assert.same({ "plan for Billing (q1) from f:", "    ring number of Ada Lovelace (u1): 2 -> 5",
      "    skills for Ada Lovelace (u1): Billing 2 -> 4" }, lines)
  end)

  it("ends where the tutorial's own script does with --api tutorial, for files that leave keys out", function()
    local py = os.execute("python3 -c 'import requests' >/dev/null 2>&1") and "python3"
    if not py then
      pending("python3 with the requests module is not installed (apt-get install python3-requests)")
      return
    end
    local org = json.decode(h.read(EXAMPLE_ORG))
    local files = {
      ["queue_01.json"] = { queue_id = org.queues[1].id, name = "Only a name" },
      ["queue_02.json"] = { queue_id = org.queues[2].id, skills = { [org.skills[3].id] = 2 },
        members = { [org.users[5].id] = 3 } },
    }
    -- the parts of the org both change, as bench/run's workload 1 compares them
    local function final(state)
      local queues, skills, nodes = {}, {}, {}
      for _, q in ipairs(state.queues) do
        queues[q.id] = { name = q.name, description = q.description, acw = q.acwSettings, members = members_of(q) }
      end
      for _, u in ipairs(state.users) do skills[u.id] = skills_of(state, u.id) end
      for _, f in ipairs(state.flows) do nodes[f.id] = f.configuration.nodes end
      return { queues = queues, skills = skills, nodes = nodes }
    end
    local states = {}
    for _, way in ipairs { "tutorial", "gcrun" } do
      local one = h.sandbox()
      local wd = dir .. "/" .. way
      os.execute("mkdir -p " .. h.quote(wd))
      for f, d in pairs(files) do h.write(wd .. "/" .. f, json.encode(d)) end
      local ok, out
      if way == "tutorial" then
        ok = os.execute(string.format("cd %s && GENESYS_CLIENT_ID=%s GENESYS_CLIENT_SECRET=%s GENESYS_BASE_URL=%s "
          .. "%s %s >%s/out 2>&1", h.quote(wd), h.quote(one.client_id), h.quote(one.client_secret),
          h.quote(one.url .. "/tutorial"), py, h.quote(h.srcdir .. "/tests/fixtures/tutorial/tutorial_example.py"),
          h.quote(wd)))
        out = h.read(wd .. "/out")
      else
        local r = one.run { "queue-sync", "--api", "tutorial", "--base-url", one.url .. "/tutorial", "--flow",
          "example-flow-id", "--report", wd .. "/report.json", wd }
        ok, out = r.status == 0, r.stdout .. r.stderr
      end
      states[way] = final(one.org())
      one.stop()
      assert.is_true(ok, out)
    end
    assert.equal("Auto-Generated Queue", states.gcrun.queues[org.queues[2].id].name)
    assert.same(states.tutorial, states.gcrun)
  end)

  it("warns about an unknown key with a suggestion, and refuses it under --strict", function()
    start()
    local billing = named(sb.org().queues, "Billing")
    local path = def("billing", { queue_id = billing.id, descripton = "typo" })
    local r = sync { "--dry-run", path }
    assert.equal(0, r.status, r.stderr)
    assert.matches("unknown key 'descripton' is ignored %(did you mean 'description'%?%)", r.stderr)
    assert.matches("nothing to change", r.stdout)
    r = sync { "--strict", path }
    assert.equal(2, r.status)
    assert.matches("descripton: is not a definition key %(did you mean 'description'%?%) %(%-%-strict%)", r.stderr)
    assert.equal(0, writes(sb.stats()))
  end)

  it("creates a queue named by a definition, with members by email, skills by name and its flow by name", function()
    start()
    local org = sb.org()
    local ada, grace = named(org.users, "Ada Lovelace"), named(org.users, "Grace Hopper")
    local path = def("mortgages", {
      name = "Mortgages", description = "Mortgage questions", wrap_up_policy = "optional",
      members = { [ada.email] = 1, [grace.email] = 3 }, skills = { Billing = 3, spanish = 2 },
    })
    local plan = sync { "--dry-run", path }
    assert.equal(0, plan.status, plan.stdout .. plan.stderr)
    assert.matches("planned     Mortgages %(new%)  created; acwSettings, description, name; %+2 %-0 members", plan.stdout)
    assert.matches('create queue "Mortgages"', plan.stdout)
    assert.matches("%+ member Ada Lovelace %(", plan.stdout)
    assert.matches("Billing none %-> 3", plan.stdout)
    assert.equal(0, writes(sb.stats()))

    local r = sync { path }
    assert.equal(0, r.status, r.stdout .. r.stderr)
    assert.matches("updated     Mortgages %(%x+%)  created;", r.stdout)
    org = sb.org()
    local q = named(org.queues, "Mortgages")
    assert.is_truthy(q)
    assert.equal("Mortgage questions", q.description)
    assert.same({ wrapupPrompt = "OPTIONAL" }, q.acwSettings)
    assert.same({ [ada.id] = 1, [grace.id] = 3 }, members_of(q))
    local billing, spanish = named(org.skills, "Billing"), named(org.skills, "Spanish")
    assert.equal(3, skills_of(org, ada.id)[billing.id])
    assert.equal(2, skills_of(org, grace.id)[spanish.id])
    local entry = r.report.changes[1]
    assert.is_true(entry.created)
    assert.equal(q.id, entry.queue_id)
    assert.equal("Ada Lovelace", entry.names[ada.id])
    assert.equal("Billing", entry.names[billing.id])

    local before = sb.stats()
    r = sync { path }
    assert.equal(0, r.status, r.stderr)
    assert.matches("unchanged   Mortgages %(", r.stdout)
    assert.equal(writes(before), writes(sb.stats()))
  end)

  it("updates a flow named in a definition", function()
    start()
    local org = sb.org()
    local billing = named(org.queues, "Billing")
    local r = sync { def("billing", { queue_id = billing.id, name = "Billing (renamed)",
      flows = { "tutorial EXAMPLE flow" } }) }
    assert.equal(0, r.status, r.stdout .. r.stderr)
    assert.matches("flow Tutorial example flow %(example%-%): version 1 %-> 2", r.stdout)
    local flow = by_id(sb.org().flows, "example-flow-id")
    local names = {}
    for _, n in ipairs(flow.configuration.nodes) do
      if n.config and n.config.queueId == billing.id then names[#names + 1] = n.config.queueName end
    end
    assert.same({ "Billing (renamed)" }, names)
  end)

  it("creates a queue from a name alone, and calls that an update", function()
    start()
    local r = sync { def("bare", { name = "Bare" }) }
    assert.equal(0, r.status, r.stdout .. r.stderr)
    assert.matches("updated     Bare %(%x+%)  created", r.stdout)
    assert.equal("updated", r.report.changes[1].status)
    assert.equal(1, r.report.total_queues_updated)
    local q = named(sb.org().queues, "Bare")
    assert.same({ wrapupPrompt = "OPTIONAL" }, q.acwSettings)
    assert.equal("unchanged", sync({ def("bare", { name = "Bare" }) }).report.changes[1].status)
  end)

  it("refuses to create with --no-create; a queue_id that does not exist stays an error", function()
    start()
    local r = sync { "--no-create", def("new", { name = "Nowhere" }) }
    assert.equal(1, r.status)
    assert.matches("no queue named 'Nowhere' in this org %(%-%-no%-create: not created%)", r.stdout)
    r = sync { def("new", { queue_id = "00000000-0000-4000-8000-000000000000", description = "x" }) }
    assert.equal(1, r.status)
    assert.matches("does not exist in this org", r.stdout)
    assert.equal(0, writes(sb.stats()))
    assert.is_nil(named(sb.org().queues, "Nowhere"))
  end)

  it("waits for a queue it created that the service does not show yet", function()
    start { queue_lag = 1500 }
    local ada = named(sb.org().users, "Ada Lovelace")
    local path = def("late", { name = "Late Queue", members = { [ada.email] = 2 } })
    local r = sync { path }
    assert.equal(0, r.status, r.stdout .. r.stderr)
    local q = named(sb.org().queues, "Late Queue")
    assert.same({ [ada.id] = 2 }, members_of(q))
  end)

  it("updates the queue a duplicate.name answer names, when the listing did not show it yet", function()
    start { queue_lag = 1500 }
    -- made a moment ago by someone else: not listed yet, its name taken
    local http = require "gcrun.http"
    local _, creds = require("gcrun.oauth").resolve { base_url = sb.url, client_id = sb.client_id,
      client_secret = sb.client_secret, env_file = false }
    local c = http.client { base_url = sb.url, auth = creds, max_attempts = 1 }
    local resp = c:request { method = "POST", path = "/api/v2/routing/queues", json = {
      name = "Racing", acwSettings = { wrapupPrompt = "OPTIONAL" }, skillEvaluationMethod = "ALL",
      mediaSettings = {} } }
    assert.equal(200, resp.status, resp.body)
    local id = resp:json().id
    local r = sync { def("racing", { name = "Racing", description = "found" }) }
    assert.equal(0, r.status, r.stdout .. r.stderr)
    local queues = {}
    for _, q in ipairs(sb.org().queues) do if q.name == "Racing" then queues[#queues + 1] = q end end
    assert.equal(1, #queues)
    assert.equal(id, queues[1].id)
    assert.equal("found", queues[1].description)
    assert.is_nil(r.report.changes[1].created)
  end)

  it("resolves names with a few bulk reads, not a request per reference", function()
    start()
    local org = sb.org()
    for i = 1, 6 do
      local members = {}
      for j = 1, 5 do members[org.users[(i * 5 + j) % #org.users + 1].email] = 1 end
      def("q" .. i, { name = org.queues[i].name, members = members, skills = { English = 1 } })
    end
    local r = sync { "--dry-run", dir .. "/defs" }
    assert.equal(0, r.status, r.stdout .. r.stderr)
    local routes = sb.stats().by_route
    assert.equal(1, routes["POST /api/v2/users/search"])
    assert.equal(1, routes["GET /api/v2/routing/queues"])
    assert.equal(1, routes["GET /api/v2/routing/skills"])
  end)

  it("fails a queue whose agent is unknown unless a rule drops the agent; removes an unknown skill", function()
    start()
    local sales = named(sb.org().queues, "Sales")
    local path = def("sales", { name = "Sales", members = { ["nobody@example.com"] = 1 }, skills = { Juggling = 2 } })
    local r = sync { path }
    assert.equal(1, r.status)
    assert.matches("Member 'nobody@example.com' not found: no user has that email or username", r.stdout)
    assert.matches("corrected by unknown%-skill: removed unknown skill 'Juggling'", r.stdout)
    assert.same(members_of(sales), members_of(named(sb.org().queues, "Sales")))
    r = sync { "--rules", h.srcdir .. "/examples/rules/drop-unknown-members.lua", path }
    assert.equal(0, r.status, r.stdout)
    assert.same({}, members_of(named(sb.org().queues, "Sales")))
  end)

  it("fails a queue whose flow or division no object has, naming the file and field", function()
    start()
    local r = sync { def("sales", { name = "Sales", description = "x", flows = { "No Such Flow" } }),
      def("claims", { name = "Claims", description = "y", division = "Nowhere" }) }
    assert.equal(1, r.status)
    assert.matches("failed      Sales .-sales%.json: flows%[1%]: no flow has the name or id 'No Such Flow'", r.stdout)
    assert.matches("failed      Claims .-claims%.json: division: no division has the name or id 'Nowhere'", r.stdout)
    assert.equal(0, writes(sb.stats()))
  end)

  it("fails a queue whose name matches several objects, naming the candidates", function()
    local org = json.decode(h.read(EXAMPLE_ORG))
    -- the org has a second skill that differs only in case from "English"
    local copy = json.copy(org.skills[1])
    copy.id, copy.name = "0d2b7c9a-1111-4222-8333-444455556666", "ENGLISH"
    org.skills[#org.skills + 1] = copy
    local grace = named(org.users, "Grace Hopper")
    grace.username = named(org.users, "Ada Lovelace").email
    h.write(dir .. "/org.json", json.encode(org))
    start { org = dir .. "/org.json" }
    local r = sync { def("billing", { name = "Billing", skills = { English = 1 } }) }
    assert.equal(1, r.status)
    assert.matches("skills.English: 'English' matches 2 skills: ENGLISH %(0d2b7c9a%-1111%-4222%-8333%-444455556666%), "
      .. "English %(" .. org.skills[1].id:gsub("%p", "%%%0") .. "%); name one by id", r.stdout)
    r = sync { def("billing", { name = "Billing", members = { [named(org.users, "Ada Lovelace").email] = 1 } }) }
    assert.equal(1, r.status)
    assert.matches("matches 2 users: Ada Lovelace %(.-%), Grace Hopper %(", r.stdout)
    assert.equal(0, writes(sb.stats()))
  end)

  it("fails a definition whose queue name two queues answer to (an org made before names were checked)", function()
    local org = json.decode(h.read(EXAMPLE_ORG))
    local copy = json.copy(org.queues[2])
    copy.id, copy.name = "7c3e1d2a-5555-4666-8777-888899990000", "BILLING"
    org.queues[#org.queues + 1] = copy
    h.write(dir .. "/org.json", json.encode(org))
    start { org = dir .. "/org.json" }
    local r = sync { def("billing", { name = "billing", description = "which one?" }) }
    assert.equal(1, r.status)
    assert.matches("name: 'billing' matches 2 queues: BILLING %(7c3e1d2a%-5555%-4666%-8777%-888899990000%), "
      .. "Billing %(" .. org.queues[1].id:gsub("%p", "%%%0") .. "%); give queue_id", r.stdout)
    assert.equal(0, writes(sb.stats()))
  end)

  it("removes a skill at level 0 or null from the queue's members, unless another definition gives it", function()
    start()
    local org = sb.org()
    local ada, grace, alan = named(org.users, "Ada Lovelace"), named(org.users, "Grace Hopper"),
      named(org.users, "Alan Turing")
    local billing = named(org.skills, "Billing")
    local first = sync { def("a", { name = "Accounts", members = { [ada.email] = 1, [grace.email] = 1 },
      skills = { Billing = 4, French = 2 } }) }
    assert.equal(0, first.status, first.stdout .. first.stderr)
    assert.equal(4, skills_of(sb.org(), ada.id)[billing.id])

    def("a", [[{"name": "Accounts", "skills": {"Billing": 0, "French": null}}]])
    -- another queue of this run gives Grace the skill: she keeps it, with a warning
    def("b", { name = "Partners", members = { [grace.email] = 1, [alan.email] = 1 }, skills = { Billing = 2 } })
    local plan = sync { "--dry-run", dir .. "/defs" }
    assert.equal(0, plan.status, plan.stdout .. plan.stderr)
    assert.matches("skills for Ada Lovelace %(%x+%): Billing 4 %-> removed, French 2 %-> removed", plan.stdout)
    assert.matches("agent Grace Hopper %(%x+%) gets skill Billing at levels 2 from .-b%.json, removed by .-a%.json: "
      .. "2 is used for all", plan.stderr)

    local r = sync { dir .. "/defs" }
    assert.equal(0, r.status, r.stdout .. r.stderr)
    -- the Markdown rendering of the same report says so, by name
    local md = require("gcrun.report").render(r.report, "md")
    assert.matches("| Ada Lovelace | `" .. ada.id .. "` |  | 4 → removed | 2 → removed |", md, 1, true)
    org = sb.org()
    assert.is_nil(skills_of(org, ada.id)[billing.id])
    assert.is_nil(skills_of(org, ada.id)[named(org.skills, "French").id])
    assert.equal(2, skills_of(org, grace.id)[billing.id])
    local rows = r.report.changes[1].skill_assignments[1].skills
    assert.same({ id = billing.id, name = "Billing", level = 0, proficiency = 0, before = 4, removed = true },
      by_id(rows, billing.id))
    local before = sb.stats()
    assert.equal(0, sync({ dir .. "/defs" }).status)
    assert.equal(writes(before), writes(sb.stats()))
  end)

  it("exports one org and syncs the files into another with the same names and other ids", function()
    local a = h.sandbox()
    local b = h.sandbox { id_seed = 2 }
    local ok, err = pcall(function()
      -- org A first gets a queue of its own making, with members and a skill
      local ada = named(a.org().users, "Ada Lovelace")
      h.write(dir .. "/made.json", json.encode { name = "Pensions", members = { [ada.email] = 2 },
        skills = { Claims = 3 }, wrap_up_policy = "none", acw_timer_required = true, acw_timeout = 30 })
      local r = sync({ dir .. "/made.json" }, a)
      assert.equal(0, r.status, r.stdout .. r.stderr)
      r = a.run { "queue-export", "--portable", "--out", dir .. "/export" }
      assert.equal(0, r.status, r.stderr)
      local exported = h.read(dir .. "/export/pensions.json")
      assert.not_matches(named(a.org().queues, "Pensions").id, exported)
      assert.not_matches(ada.id, exported)
      assert.matches(ada.email, exported, 1, true)

      assert.are_not.equal(named(a.org().queues, "Billing").id, named(b.org().queues, "Billing").id)
      r = sync({ dir .. "/export" }, b)
      assert.equal(0, r.status, r.stdout .. r.stderr)
      local org_b = b.org()
      local q = named(org_b.queues, "Pensions")
      local ada_b = named(org_b.users, "Ada Lovelace")
      assert.same({ [ada_b.id] = 2 }, members_of(q))
      assert.same({ wrapupPrompt = "AGENT_REQUESTED", timeoutMs = 30000 }, q.acwSettings)
      assert.equal(3, skills_of(org_b, ada_b.id)[named(org_b.skills, "Claims").id])
      -- every queue of A has the same members, by name, in B
      local org_a = a.org()
      local function by_names(org, queue)
        local t = {}
        for id, ring in pairs(members_of(queue)) do t[by_id(org.users, id).name] = ring end
        return t
      end
      for _, qa in ipairs(org_a.queues) do
        assert.same(by_names(org_a, qa), by_names(org_b, named(org_b.queues, qa.name)))
      end
      local before = b.stats()
      r = sync({ dir .. "/export" }, b)
      assert.equal(0, r.status, r.stderr)
      assert.equal(writes(before), writes(b.stats()))

      -- the same org's round trip, names beside ids: no writes either
      r = a.run { "queue-export", "--out", dir .. "/same" }
      assert.equal(0, r.status, r.stderr)
      assert.matches('"name": "Ada Lovelace"', h.read(dir .. "/same/pensions.json"), 1, true)
      before = a.stats()
      r = sync({ dir .. "/same" }, a)
      assert.equal(0, r.status, r.stdout .. r.stderr)
      assert.equal(writes(before), writes(a.stats()))
    end)
    a.stop()
    b.stop()
    assert(ok, err)
  end)

  it("refuses to overwrite an exported file that differs, unless --force", function()
    start()
    local out = dir .. "/export"
    assert.equal(0, sb.run({ "queue-export", "--out", out }).status)
    h.write(out .. "/billing.json", "{}\n")
    local r = sb.run { "queue-export", "--out", out }
    assert.equal(2, r.status)
    assert.matches("1 file would be overwritten with other content: .-billing%.json; nothing was written", r.stderr)
    assert.equal("{}\n", h.read(out .. "/billing.json"))
    r = sb.run { "queue-export", "--out", out, "--force" }
    assert.equal(0, r.status, r.stderr)
    assert.matches('"name": "Billing"', h.read(out .. "/billing.json"), 1, true)
    r = sb.run { "queue-export", "--out", out }
    assert.equal(0, r.status)
    assert.matches("0 definitions written .- %(12 unchanged%)", r.stdout .. r.stderr)
  end)
end)
