-- queue-sync end to end, run as a user runs it, against sandbox orgs.
local h = require "tests.helpers"
local json = require "gcrun.json"

local EXAMPLES = h.srcdir .. "/examples/queues"
local ORG = json.decode(h.read(h.srcdir .. "/examples/sandbox-org.json"))

local function by_id(list)
  local t = {}
  for _, x in ipairs(list) do t[x.id] = x end
  return t
end

-- writes to the org (the user search is a POST that only reads)
local function writes(stats)
  local m = stats.by_method
  return (m.PUT or 0) + (m.POST or 0) + (m.PATCH or 0) + (m.DELETE or 0)
    - ((stats.by_route or {})["POST /api/v2/users/search"] or 0)
end

local function statuses(report)
  local t = {}
  for _, c in ipairs(report.changes) do t[#t + 1] = c.status end
  return t
end

-- definitions for every queue of a generated org: rename, new members
-- with ring numbers, a skill or two
local function generated_defs(dir, org, n, opts)
  opts = opts or {}
  os.execute("mkdir -p " .. h.quote(dir .. "/defs"))
  for i = 1, n do
    local q = org.queues[i]
    local members, skills = {}, {}
    for j = 1, opts.members or 4 do
      members[org.users[(i * 7 + j * 13) % #org.users + 1].id] = (j % 6) + 1
    end
    for j = 1, opts.skills or 2 do skills[org.skills[(i + j * 5) % #org.skills + 1].id] = (j % 5) + 1 end
    h.write(string.format("%s/defs/q%04d.json", dir, i), json.encode {
      queue_id = q.id, name = q.name .. " (synced)", description = "generated", members = members, skills = skills,
      wrap_up_policy = "required", acw_timer_required = true, acw_timeout = 100 + i % 50 })
  end
  return dir .. "/defs"
end

describe("queue-sync on the example org", function()
  local sb, dir

  before_each(function()
    sb = h.sandbox()
    dir = h.tmpdir()
  end)
  after_each(function()
    sb.stop()
    h.rmtree(dir)
  end)

  local function sync(args, extra)
    local full = { "queue-sync", "--report", dir .. "/report.json" }
    for _, a in ipairs(args) do full[#full + 1] = a end
    local r = sb.run(full, extra)
    local ok, report = pcall(function() return json.decode(h.read(dir .. "/report.json")) end)
    r.report = ok and report or nil
    return r
  end

  it("applies the examples: corrections, members, skills, flows, a summary and a report", function()
    local r = sync { EXAMPLES }
    assert.equal(0, r.status, r.stderr)
    assert.matches("corrected by unknown%-skill: removed unknown skill", r.stdout)
    assert.matches("corrected by duplicate%-member", r.stdout)
    assert.matches("corrected by invalid%-wrap%-up%-policy: wrap_up_policy 'sometimes' is not valid", r.stdout)
    assert.matches("flow Inbound 01 %(%x+%): version 1 %-> 2", r.stdout)
    assert.matches("queue%-sync completed: 6 queues", r.stdout)
    assert.matches("report: " .. dir:gsub("%p", "%%%0") .. "/report%.json", r.stdout)

    local report = r.report
    assert.equal(5, report.total_queues_updated)
    assert.same({ "updated", "unchanged", "updated", "updated", "updated", "updated" }, statuses(report))
    local billing = report.changes[1]
    assert.equal("Billing & Payments", billing.queue_name)
    assert.equal(2, billing.skills_assigned)
    assert.equal(3, billing.members_assigned)
    assert.is_true(billing.flow_node_updated)
    assert.equal("unknown-skill", billing.validation_corrections[1].rule)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$", billing.timestamp)
    assert.equal("platform", report.run.dialect)
    assert.matches("^http://127%.0%.0%.1:%d+ %(base URL from %-%-base%-url%)", report.run.target)
    -- one vocabulary from plan to report: ring changes by member, skill rows by level (and, as
    -- reports always said, proficiency)
    local grace = {}
    for _, ring in ipairs(billing.ring_numbers) do if ring.member == ORG.users[2].id then grace = ring end end
    assert.same({ member = ORG.users[2].id, member_name = "Grace Hopper", before = 1, after = 2 }, grace)
    for _, a in ipairs(billing.skill_assignments) do
      for _, s in ipairs(a.skills) do
        assert.is_number(s.level)
        assert.equal(s.level, s.proficiency)
      end
    end
    assert.is_true(#billing.skill_assignments > 0)
    assert.same({ "fields_changed", "members_added", "members_removed" }, (function()
      local present = {}
      for _, k in ipairs { "fields_changed", "members_added", "members_removed" } do
        if type(billing[k]) == "table" then present[#present + 1] = k end
      end
      return present
    end)())

    local org = sb.org()
    local q = by_id(org.queues)[ORG.queues[1].id]
    assert.equal("Billing & Payments", q.name)
    assert.same({ wrapupPrompt = "MANDATORY_TIMEOUT", timeoutMs = 180000 }, q.acwSettings)
    local rings = {}
    for _, m in ipairs(q._members) do rings[m.id] = m.ringNumber end
    assert.equal(3, #q._members)
    assert.equal(2, rings[ORG.users[2].id])                 -- Grace Hopper, ring 2
    local ada = by_id(org.users)[ORG.users[1].id]
    local ada_skills = {}
    for _, s in ipairs(ada.skills) do ada_skills[s.id] = s.proficiency end
    assert.equal(4, ada_skills[ORG.skills[1].id])            -- English 4
    assert.equal(5, ada_skills[ORG.skills[5].id])            -- Billing 5
    for _, f in ipairs(org.flows) do
      assert.is_nil(f.lockedClient, "flow " .. f.name .. " left locked")
      for _, n in ipairs(f.configuration.nodes) do
        if n.type == "Queue" and n.config.queueId == q.id then assert.equal("Billing & Payments", n.config.queueName) end
      end
    end
  end)

  it("makes no write at all on a second run of the same definitions", function()
    assert.equal(0, sync({ EXAMPLES }).status)
    local before = sb.stats()
    local r = sync { EXAMPLES }
    assert.equal(0, r.status, r.stderr)
    assert.equal(writes(before), writes(sb.stats()))
    assert.same({ "unchanged", "unchanged", "unchanged", "unchanged", "unchanged", "unchanged" }, statuses(r.report))
    assert.equal(0, r.report.total_queues_updated)
  end)

  it("with --dry-run prints the plan and sends no write", function()
    local r = sync { "--dry-run", EXAMPLES }
    assert.equal(0, r.status, r.stderr)
    assert.equal(0, writes(sb.stats()))
    assert.matches("plan for Billing & Payments", r.stdout, 1, true)
    assert.matches('name: "Billing" %-> "Billing & Payments"', r.stdout)
    assert.matches("%+ member Grace Hopper", r.stdout)
    assert.matches("ring number of Grace Hopper %(%x+%): 1 %-> 2", r.stdout)
    assert.matches("skills for Ada Lovelace %(%x+%): Billing none %-> 5, English none %-> 4", r.stdout)
    assert.matches("flow Inbound 01 %(%x+%) would be edited: node to%-1 queueName", r.stdout)
    assert.is_true(r.report.run.dry_run)
    assert.equal("planned", r.report.changes[1].status)
  end)

  it("sends nothing when a file is invalid, naming file, field and reason (exit 2)", function()
    h.write(dir .. "/bad.json", '{"queue_id": "x", "members": {"u1": 9}}')
    local r = sync { EXAMPLES .. "/billing.json", dir .. "/bad.json" }
    assert.equal(2, r.status)
    assert.matches("gcrun: " .. dir:gsub("%p", "%%%0") .. "/bad%.json: members%.u1: must be a priority", r.stderr)
    assert.matches("1 definition file is invalid; nothing was sent", r.stderr)
    assert.equal(0, sb.stats().requests)
  end)

  it("with --keep-going skips only the invalid files, names them and exits 1", function()
    h.write(dir .. "/bad.json", "{ not json")
    local r = sync { "--keep-going", EXAMPLES .. "/billing.json", dir .. "/bad.json" }
    assert.equal(1, r.status, r.stderr)
    assert.matches("skipped " .. dir:gsub("%p", "%%%0") .. "/bad%.json: line 1, column 3: invalid JSON", r.stdout)
    assert.equal(1, #r.report.changes)
    assert.equal(dir .. "/bad.json", r.report.skipped_files[1].file)
  end)

  it("preserves every field of the queue it does not manage", function()
    local before = by_id(sb.org().queues)[ORG.queues[5].id]      -- Claims: rename only
    h.write(dir .. "/claims.json", json.encode { queue_id = before.id, name = "Claims Desk",
      description = before.description, members = { [before._members[1].id] = 1, [before._members[2].id] = 1 },
      wrap_up_policy = "required", acw_timer_required = true, acw_timeout = 120 })
    assert.equal(0, sync({ dir .. "/claims.json" }).status)
    local after = by_id(sb.org().queues)[before.id]
    assert.equal("Claims Desk", after.name)
    for k, v in pairs(before) do
      if k ~= "name" and k ~= "dateModified" and k ~= "modifiedBy" and k ~= "version" then
        assert.same(v, after[k], "field " .. k .. " changed")
      end
    end
    assert.matches('"routingRules":%[%]', json.encode(after))   -- an empty list stays a list
  end)

  it("settles one level when two definitions give an agent a skill at different levels", function()
    local ada, english = ORG.users[1].id, ORG.skills[1].id
    h.write(dir .. "/a.json", json.encode { queue_id = ORG.queues[5].id, name = "Claims", members = { [ada] = 1 },
      skills = { [english] = 2 } })
    h.write(dir .. "/b.json", json.encode { queue_id = ORG.queues[6].id, name = "Onboarding", members = { [ada] = 1 },
      skills = { [english] = 5 } })
    local r = sync { dir .. "/a.json", dir .. "/b.json" }
    assert.equal(0, r.status, r.stderr)
    assert.matches("agent " .. ada:gsub("%-", "%%-") .. " gets skill .* at levels 2 from .*a%.json, 5 from .*b%.json: 5 is used",
      r.stderr)
    local level
    for _, s in ipairs(by_id(sb.org().users)[ada].skills) do if s.id == english then level = s.proficiency end end
    assert.equal(5, level)
    local before = writes(sb.stats())
    assert.equal(0, sync({ dir .. "/a.json", dir .. "/b.json" }).status)
    assert.equal(before, writes(sb.stats()))
  end)

  it("fails a queue that does not exist and goes on with the others (exit 1)", function()
    h.write(dir .. "/ghost.json", '{"queue_id": "00000000-0000-4000-8000-0000000000ff", "name": "Ghost"}')
    local r = sync { EXAMPLES .. "/claims.json", dir .. "/ghost.json" }
    assert.equal(1, r.status)
    assert.matches("failed +Ghost %(00000000%) +queue 00000000%-0000%-4000%-8000%-0000000000ff does not exist in this org",
      r.stdout)
    assert.same({ "unchanged", "failed" }, statuses(r.report))
  end)

  it("fails a queue whose 400 no rule explains, with the service's message", function()
    h.write(dir .. "/dup.json", json.encode { queue_id = ORG.queues[5].id, name = ORG.queues[1].name })
    local r = sync { dir .. "/dup.json" }
    assert.equal(1, r.status)
    assert.matches("HTTP 400 duplicate%.name: A queue named 'Billing' already exists", r.report.changes[1].error)
  end)

  it("writes Markdown and self-contained HTML reports", function()
    local md = sb.run { "queue-sync", "--report", dir .. "/r.md", EXAMPLES }
    assert.equal(0, md.status, md.stderr)
    local text = h.read(dir .. "/r.md")
    assert.matches("^# Queue impact report", text)
    assert.matches("| Billing & Payments |", text, 1, true)
    local html = sb.run { "queue-sync", "--report", dir .. "/r.out", "--format", "html", EXAMPLES }
    assert.equal(0, html.status, html.stderr)
    local page = h.read(dir .. "/r.out")
    assert.matches("^<!DOCTYPE html>", page)
    assert.matches("Billing &amp; Payments", page, 1, true)
    assert.is_nil(page:find("<script", 1, true))
    assert.is_nil(page:find("src=", 1, true))
    assert.is_nil(page:find("href=", 1, true))
  end)

  it("keeps empty lists as JSON arrays in the report", function()
    local r = sync { EXAMPLES .. "/claims.json" }
    local raw = h.read(dir .. "/report.json")
    assert.matches('"members_added": %[%]', raw)
    assert.matches('"validation_corrections": %[%]', raw)
    assert.matches('"skipped_files": %[%]', raw)
    assert.equal(0, r.status)
  end)

  it("prints queues and writes the report in file order whatever the concurrency", function()
    local function lines(conc)
      local r = sync { "--dry-run", "--concurrency", tostring(conc), EXAMPLES }
      local out = {}
      for l in r.stdout:gmatch("[^\n]+") do if l:match("^  %a") and not l:match("requests") then out[#out + 1] = l end end
      local names = {}
      for _, c in ipairs(r.report.changes) do names[#names + 1] = c.queue_name end
      return out, names
    end
    local a, an = lines(1)
    local b, bn = lines(6)
    assert.same(a, b)
    assert.same(an, bn)
  end)

  -- the examples with ids for their names: the tutorial's API lists
  -- nothing to find a name in (an unknown skill's name stays, for the rules)
  local function examples_by_id()
    local ids = {}   -- kind -> name -> id
    for _, kind in ipairs { "queues", "skills", "flows" } do
      ids[kind] = {}
      for _, x in ipairs(ORG[kind]) do ids[kind][x.name] = x.id end
    end
    ids.members = {}
    for _, u in ipairs(ORG.users) do ids.members[u.email] = u.id end
    local function id(kind, k) return ids[kind][k] or k end
    os.execute("mkdir -p " .. h.quote(dir .. "/by-id"))
    for _, f in ipairs(require("gcrun.sys").dir(EXAMPLES)) do
      local d = json.decode(h.read(EXAMPLES .. "/" .. f))
      d.queue_id = d.queue_id or ids.queues[d.name]
      for _, field in ipairs { "skills", "members" } do
        local v = d[field]
        if json.is_array(v) then
          for _, e in ipairs(v) do e.id = id(field, e.id) end
        else
          local t = {}
          for k, x in pairs(v) do t[id(field, k)] = x end
          d[field] = t
        end
      end
      for i, fl in ipairs(d.flows or {}) do d.flows[i] = id("flows", fl) end
      h.write(dir .. "/by-id/" .. f, json.encode(d))
    end
    return dir .. "/by-id"
  end

  it("speaks the tutorial's wire format with --api tutorial", function()
    local EXAMPLES = examples_by_id()   -- luacheck: ignore 431 (the same examples, by id)
    local r = sync { "--api", "tutorial", "--base-url", sb.url .. "/tutorial", "--flow", "example-flow-id", EXAMPLES }
    assert.equal(0, r.status, r.stderr)
    assert.matches("corrected by unknown%-skill", r.stdout)
    assert.matches("flow Tutorial example flow %(example%-%): version 1 %-> 2", r.stdout)
    assert.equal("tutorial", r.report.run.dialect)
    local q = by_id(sb.org().queues)[ORG.queues[1].id]
    assert.equal("Billing & Payments", q.name)
    local again = sync { "--api", "tutorial", "--base-url", sb.url .. "/tutorial", "--flow", "example-flow-id",
      EXAMPLES }
    assert.equal(0, again.status)
    assert.same({ "unchanged", "unchanged", "unchanged", "unchanged", "unchanged", "unchanged" }, statuses(again.report))
  end)

  it("writes one JSON object a line with --log-format json", function()
    local r = sync { "--log-format", "json", EXAMPLES }
    assert.equal(0, r.status, r.stderr)
    local events = {}
    for line in (r.stdout .. r.stderr):gmatch("[^\n]+") do
      local e = json.decode(line)
      assert.is_table(e, line)
      assert.is_string(e.ts)
      events[e.event or e.level] = (events[e.event or e.level] or 0) + 1
    end
    assert.equal(6, events.queue)
    assert.equal(3, events.correction)
    assert.is_true(events.flow >= 5)
  end)

  it("prints only errors and the summary with --quiet", function()
    local r = sync { "--quiet", EXAMPLES }
    assert.equal(0, r.status)
    assert.equal("", r.stderr)
    assert.matches("^queue%-sync completed: 6 queues", r.stdout)
    assert.is_nil(r.stdout:find("corrected by", 1, true))
  end)

  it("keeps secrets out of stdout, stderr and the report at every verbosity", function()
    for _, v in ipairs { {}, { "-v" }, { "-v", "-v" }, { "--log-format", "json", "-v", "-v" } } do
      local args = { EXAMPLES .. "/billing.json" }
      for _, a in ipairs(v) do args[#args + 1] = a end
      local r = sync(args)
      assert.equal(0, r.status, r.stderr)
      local all = r.stdout .. r.stderr .. h.read(dir .. "/report.json")
      assert.is_nil(all:find(sb.client_secret, 1, true))
      assert.is_nil(all:find("sbx-", 1, true), "a bearer token leaked")
    end
    local r = sync({ EXAMPLES }, { env = { GENESYSCLOUD_OAUTHCLIENT_SECRET = "WRONG-CANARY-SECRET" } })
    assert.equal(3, r.status)
    assert.matches("authentication failed: the login host refused the client credentials", r.stderr)
    assert.is_nil((r.stdout .. r.stderr):find("WRONG-CANARY-SECRET", 1, true))
  end)
end)

describe("queue-sync at scale and under faults", function()
  local dir
  before_each(function() dir = h.tmpdir() end)
  after_each(function() h.rmtree(dir) end)

  it("accounts in its report for every request, retry and 429 the service saw", function()
    -- drops make libcurl resend on its own and 429s come before drops: the
    -- report's counts must still equal what the sandbox counted
    for seed = 1, 3 do
      local sb = h.sandbox { faults = { ["503"] = 0.15, drop = 0.15, ["429"] = 0.2 }, flow_editor = 0.3,
        flow_locks = 0.2, seed = seed }
      local r = sb.run { "queue-sync", "--report", dir .. "/r.json", EXAMPLES }
      local stats = sb.stats()
      sb.stop()
      assert.equal(0, r.status, r.stderr)
      local run = json.decode(h.read(dir .. "/r.json")).run
      local seen = 0
      for _, n in pairs(stats.by_method) do seen = seen + n end
      assert.equal(seen, run.requests)
      assert.equal(stats.throttled + (stats.injected["429"] or 0), run.throttled)
      assert.is_true(run.retries >= (stats.injected["503"] or 0) + (stats.injected["429"] or 0))
    end
  end)

  it("batches members by 100 and skills by 50", function()
    local org_path = h.org_file(dir, { users = 260, skills = 70, queues = 2, flows = 1 })
    local org = json.decode(h.read(org_path))
    local sb = h.sandbox { org = org_path }
    local members, skills = {}, {}
    for i = 1, 150 do members[org.users[i].id] = (i % 6) + 1 end
    for i = 1, 60 do skills[org.skills[i].id] = (i % 5) + 1 end
    h.write(dir .. "/big.json", json.encode { queue_id = org.queues[1].id, name = "Big", members = members,
      skills = skills })
    -- the requests the batches make, from the org as it is before the run
    local start = sb.org()
    local was = {}
    for _, m in ipairs(by_id(start.queues)[org.queues[1].id]._members) do was[m.id] = m.ringNumber end
    local adds, removes, rings, skill_calls = 0, 0, 0, 0
    for id, ring in pairs(members) do
      if was[id] == nil then adds = adds + 1 end
      if (was[id] or 1) ~= ring then rings = rings + 1 end
      local has, needed = {}, 0
      for _, s in ipairs(by_id(start.users)[id].skills) do has[s.id] = s.proficiency end
      for sid, level in pairs(skills) do if has[sid] ~= level then needed = needed + 1 end end
      skill_calls = skill_calls + (needed + 49) // 50
    end
    for id in pairs(was) do if members[id] == nil then removes = removes + 1 end end
    assert.is_true(adds > 100 and adds <= 200)    -- two add calls when batched by 100
    local r = sb.run { "queue-sync", "--report", dir .. "/r.json", dir .. "/big.json" }
    local stats, state = sb.stats(), sb.org()
    sb.stop()
    assert.equal(0, r.status, r.stderr)
    local q = by_id(state.queues)[org.queues[1].id]
    assert.equal(150, #q._members)
    local agent = by_id(state.users)[org.users[1].id]
    local has = 0
    for _, s in ipairs(agent.skills) do if skills[s.id] == s.proficiency then has = has + 1 end end
    assert.equal(60, has)
    -- 150 members: 2 adds (100 + 50); 150 agents x 60 skills: 2 bulk calls
    -- each; a flow edited adds checkout, save, publish and checkin
    local flow_posts = 0
    for _, f in ipairs(json.decode(h.read(dir .. "/r.json")).flows) do
      if f.status == "updated" then flow_posts = flow_posts + 4 end
    end
    assert.equal(300, skill_calls)
    assert.equal(2 + (removes + 99) // 100 + flow_posts, stats.by_method.POST)
    assert.equal(skill_calls + rings, stats.by_method.PATCH)
  end)

  it("keeps every concurrent editor's change and releases every lock", function()
    local org_path = h.org_file(dir, { users = 60, skills = 10, queues = 20, flows = 8, queues_per_flow = 5 })
    local org = json.decode(h.read(org_path))
    local defs = generated_defs(dir, org, 20)
    local sb = h.sandbox { org = org_path, flow_editor = 0.5, flow_locks = 0.5, seed = 9 }
    local r = sb.run { "queue-sync", "--report", dir .. "/r.json", defs }
    local stats, state = sb.stats(), sb.org()
    sb.stop()
    assert.equal(0, r.status, r.stderr)
    assert.is_true(stats.editor_edits > 0 and stats.lock_conflicts > 0)
    local report = json.decode(h.read(dir .. "/r.json"))
    local conflicts = 0
    for _, f in ipairs(report.flows) do
      assert.equal("updated", f.status)
      conflicts = conflicts + (f.conflicts or 0)
    end
    assert.is_true(conflicts > 0)
    for _, f in ipairs(state.flows) do
      assert.is_nil(f.lockedClient, f.name .. " left locked")
      local survived = 0
      for _, n in ipairs(f.configuration.nodes) do
        if n.type ~= "Queue" then survived = survived + (n.config.editorEdits or 0) end
        if n.type == "Queue" then
          assert.matches("%(synced%)$", n.config.queueName)
        end
      end
      assert.equal(f._editor_edits or 0, survived, "an editor's change to " .. f.name .. " was lost")
    end
  end)

  it("breaks another user's lock with --force-unlock", function()
    local sb = h.sandbox { flow_locks = 1, seed = 2 }
    local r = sb.run { "queue-sync", "--force-unlock", "--report", dir .. "/r.json", EXAMPLES .. "/billing.json" }
    local state = sb.org()
    sb.stop()
    assert.equal(0, r.status, r.stderr)
    local report = json.decode(h.read(dir .. "/r.json"))
    assert.matches("Sandbox Admin", report.flows[1].unlocked_from)
    for _, f in ipairs(state.flows) do assert.is_nil(f.lockedClient) end
  end)

  it("sets ring numbers although new members answer 404 for a while", function()
    local sb = h.sandbox { member_lag = 600 }
    local r = sb.run { "queue-sync", "--report", dir .. "/r.json", EXAMPLES .. "/vip-care.json" }
    local q = by_id(sb.org().queues)[ORG.queues[7].id]
    sb.stop()
    assert.equal(0, r.status, r.stderr)
    local rings = {}
    for _, m in ipairs(q._members) do rings[#rings + 1] = m.ringNumber end
    table.sort(rings)
    assert.same({ 1, 2, 3, 6 }, rings)
  end)
end)

describe("queue-sync's declaration", function()
  it("lists --dry-run once in its help", function()
    local r = h.run { "queue-sync", "--help" }
    assert.equal(0, r.status, r.stderr)
    local n = 0
    for _ in r.stdout:gmatch("\n +%-%-dry%-run ") do n = n + 1 end
    assert.equal(1, n)
  end)

  it("is a declaration and a short main over the engine", function()
    local n = 0
    for _ in h.read(h.srcdir .. "/scripts/queue-sync.lua"):gmatch("\n") do n = n + 1 end
    assert.is_true(n < 120, n .. " lines")
  end)
end)
