-- The correction rules, fed the problems the sandbox really reports in
-- both dialects and the findings of the definition files.
local call = require "gcrun.api.call"
local correct = require "gcrun.correct"
local definitions = require "gcrun.definitions"
local h = require "tests.helpers"
local http = require "gcrun.http"
local json = require "gcrun.json"
local oauth = require "gcrun.oauth"

local ORG = json.decode(h.read(h.srcdir .. "/examples/sandbox-org.json"))
local Q, ADA, ENGLISH = ORG.queues[1], ORG.users[1], ORG.skills[1]

local rules = correct.load()

local function desired()
  return { name = "Q", skills = { { id = ENGLISH.id, level = 3 }, { id = "ghost-skill", level = 2 } },
    members = { { id = ADA.id, priority = 1 }, { id = ADA.id, priority = 4, duplicate = true } },
    wrap_up_policy = "sometimes", acw_timer_required = true, acw_timeout = 60 }
end

-- The problems of a 400 answer the sandbox gives to this request.
local function problems_for(sb, api, req)
  local _, creds = oauth.resolve { base_url = sb.url .. (api == "tutorial" and "/tutorial" or ""),
    client_id = sb.client_id, client_secret = sb.client_secret, env_file = false,
    token = require("gcrun.api." .. api).token }
  local c = http.client { base_url = sb.url, auth = creds, max_attempts = 1 }
  local resp = c:request(req)
  assert.equal(400, resp.status)
  return call.problems(resp, req)
end

local function rule_names(done)
  local names = {}
  for _, d in ipairs(done) do names[#names + 1] = d.rule end
  table.sort(names)
  return names
end

describe("correction rules", function()
  local sb
  setup(function() sb = h.sandbox() end)
  teardown(function() sb.stop() end)

  describe("on the platform dialect's 400s", function()
    it("removes an unknown skill the service names", function()
      local problems = problems_for(sb, "platform", { method = "PATCH", path = "/api/v2/users/{id}/routingskills/bulk",
        params = { id = ADA.id }, json = { { id = "ghost-skill", proficiency = 2 } } })
      local d = desired()
      local done, left = correct.apply(rules, d, problems)
      assert.same({ "unknown-skill" }, rule_names(done))
      assert.same({}, left)
      assert.same({ { id = ENGLISH.id, level = 3 } }, d.skills)
      assert.matches("removed unknown skill 'ghost%-skill' %(level 2%)", done[1].change)
    end)

    it("removes duplicate members the service refuses", function()
      local problems = problems_for(sb, "platform", { method = "POST", path = "/api/v2/routing/queues/{id}/members",
        params = { id = Q.id }, json = { { id = ADA.id }, { id = ADA.id } } })
      local d = desired()
      local done = correct.apply(rules, d, problems)
      assert.same({ "duplicate-member" }, rule_names(done))
      assert.same({ { id = ADA.id, priority = 1 } }, d.members)
    end)

    it("makes an invalid wrap-up policy 'required' when the service refuses the prompt", function()
      local problems = problems_for(sb, "platform", { method = "PUT", path = "/api/v2/routing/queues/{id}",
        params = { id = Q.id }, json = { name = Q.name, acwSettings = { wrapupPrompt = "SOMETIMES" },
          skillEvaluationMethod = "ALL", mediaSettings = {} } })
      local d = desired()
      local done = correct.apply(rules, d, problems)
      assert.same({ "invalid-wrap-up-policy" }, rule_names(done))
      assert.equal("required", d.wrap_up_policy)
    end)
  end)

  describe("on the tutorial dialect's 400s", function()
    local function tutorial_problems(payload)
      return problems_for(sb, "tutorial", { method = "PUT", path = "/tutorial/api/v2/routing/queues/{id}",
        params = { id = Q.id }, json = payload })
    end
    local base = function()
      return { name = "Q", description = "", outbound_queue = false, skills = { { id = ENGLISH.id, level = 3 } },
        members = { { id = ADA.id, priority = 1 } }, wrap_up_policy = "required",
        skill_config = { acw_timer_required = true, acw_timeout = 60 } }
    end

    it("removes the unknown skill named in quotes", function()
      local p = base()
      p.skills[2] = { id = "ghost-skill", level = 2 }
      local d = desired()
      local problems = tutorial_problems(p)
      assert.same({ { kind = "unknown-skill", definition_field = "skills", field = "skills", entity = "ghost-skill",
        code = "not.found", source = "service", message = "Skill 'ghost-skill' not found" } }, problems)
      local done, left = correct.apply(rules, d, problems)
      assert.same({ "unknown-skill" }, rule_names(done))
      assert.same({}, left)
      assert.same({ { id = ENGLISH.id, level = 3 } }, d.skills)
      assert.equal("removed unknown skill 'ghost-skill' (level 2)", done[1].change)
    end)

    it("removes the duplicate member", function()
      local p = base()
      p.members[2] = { id = ADA.id, priority = 4 }
      local d = desired()
      local problems = tutorial_problems(p)
      assert.equal(1, #problems)
      assert.equal("duplicate-member", problems[1].kind)
      assert.equal(ADA.id, problems[1].entity)
      local done = correct.apply(rules, d, problems)
      assert.same({ "duplicate-member" }, rule_names(done))
      assert.same({ { id = ADA.id, priority = 1 } }, d.members)
      assert.equal("removed 1 duplicate entry of member '" .. ADA.id .. "' (kept priority 1)", done[1].change)
    end)

    it("corrects the invalid wrap_up_policy", function()
      local p = base()
      p.wrap_up_policy = "sometimes"
      local d = desired()
      local problems = tutorial_problems(p)
      assert.equal("invalid-value", problems[1].kind)
      assert.equal("wrap_up_policy", problems[1].definition_field)
      local done = correct.apply(rules, d, problems)
      assert.same({ "invalid-wrap-up-policy" }, rule_names(done))
      assert.equal("required", d.wrap_up_policy)
      assert.equal("wrap_up_policy 'sometimes' is not valid; used 'required'", done[1].change)
    end)
  end)

  it("handles the findings of a definition file before anything is sent", function()
    local def, c = definitions.parse([[{"queue_id": "8b5a7400-cca4-4239-9271-5e22c8399ed5",
      "members": [{"id": "u1", "priority": 2}, {"id": "u1", "priority": 5}], "wrap_up_policy": "whenever"}]], "q.json")
    local done, left = correct.apply(rules, def, c.findings)
    assert.same({ "duplicate-member", "invalid-wrap-up-policy" }, rule_names(done))
    assert.same({}, left)
    assert.same({ { id = "u1", priority = 2 } }, def.members)
    assert.equal("definition", done[1].source)
    assert.equal("definition", done[2].source)
  end)

  it("leaves a problem no rule explains unresolved", function()
    local d = desired()
    local problem = { kind = "invalid-value", definition_field = "name", message = "The queue name is required",
      code = "invalid.value" }
    local done, left = correct.apply(rules, d, { problem })
    assert.same({}, done)
    assert.same({ problem }, left)
    assert.same(desired(), d)
  end)

  it("does not count a rule whose fix finds nothing to change", function()
    local d = desired()
    d.wrap_up_policy = "optional"
    local problem = { kind = "invalid-value", definition_field = "wrap_up_policy", message = "Invalid wrap_up_policy" }
    local done, left = correct.apply(rules, d, { problem })
    assert.same({}, done)
    assert.same({ problem }, left)
    assert.equal("optional", d.wrap_up_policy)
  end)

  describe("rule files", function()
    local dir
    before_each(function() dir = h.tmpdir() end)
    after_each(function() h.rmtree(dir) end)

    it("extends the bundled rules with the example rule file", function()
      local extended = correct.load(h.srcdir .. "/examples/rules/drop-unknown-members.lua")
      assert.equal(#rules + 1, #extended)
      -- the problem the platform dialect's plan finds for a member the org does not have
      local d = desired()
      d.members = { { id = ADA.id, priority = 1 } }
      local plan = require("gcrun.api").new("platform", nil):plan(d, { queue = {}, members = {}, agents = {} })
      local unknown = {}
      for _, p in ipairs(plan.problems) do if p.kind == "unknown-user" then unknown[#unknown + 1] = p end end
      assert.equal(1, #unknown)
      local done, left = correct.apply(extended, d, unknown)
      assert.same({ "drop-unknown-member" }, rule_names(done))
      assert.same({}, left)
      assert.same({}, d.members)
      assert.equal("left out member '" .. ADA.id .. "': no such user in the org", done[1].change)
    end)

    it("replaces the bundled rules with a file returning a list", function()
      h.write(dir .. "/only.lua", [[return { { name = "only", match = function() return true end,
        fix = function() return "did it" end } }]])
      local only = correct.load(dir .. "/only.lua")
      assert.equal(1, #only)
      assert.equal("only", only[1].name)
      local done = correct.apply(only, desired(), { { kind = "unknown-skill", entity = "ghost-skill" } })
      assert.same({ { rule = "only", change = "did it", source = "service" } }, done)
    end)

    it("names the rule file and the broken rule", function()
      h.write(dir .. "/bad.lua", "return { { name = 'half', match = function() end } }")
      local ok, err = pcall(correct.load, dir .. "/bad.lua")
      assert.is_false(ok)
      assert.matches("bad%.lua: rule 1 needs a name, a match function and a fix function", err.message)
      h.write(dir .. "/syntax.lua", "return {")
      ok, err = pcall(correct.load, dir .. "/syntax.lua")
      assert.is_false(ok)
      assert.matches("rule file .*syntax%.lua", err.message)
    end)
  end)
end)

describe("problems normalised to a kind", function()
  local sb
  setup(function() sb = h.sandbox() end)
  teardown(function() sb.stop() end)

  local function first(api, req) return problems_for(sb, api, req)[1] end

  it("says which kind, field and id each platform 400 is about", function()
    local p = first("platform", { method = "PATCH", path = "/api/v2/users/{id}/routingskills/bulk",
      params = { id = ADA.id }, json = { { id = "ghost-skill", proficiency = 2 } } })
    assert.same({ "unknown-skill", "skills", "ghost-skill" }, { p.kind, p.definition_field, p.entity })
    p = first("platform", { method = "POST", path = "/api/v2/routing/queues/{id}/members", params = { id = Q.id },
      json = { { id = "nobody" } } })
    assert.same({ "unknown-user", "members", "nobody" }, { p.kind, p.definition_field, p.entity })
    p = first("platform", { method = "POST", path = "/api/v2/routing/queues/{id}/members", params = { id = Q.id },
      json = { { id = ADA.id }, { id = ADA.id } } })
    assert.same({ "duplicate-member", "members", ADA.id }, { p.kind, p.definition_field, p.entity })
    p = first("platform", { method = "PUT", path = "/api/v2/routing/queues/{id}", params = { id = Q.id },
      json = { name = Q.name, acwSettings = { wrapupPrompt = "SOMETIMES" }, skillEvaluationMethod = "ALL",
        mediaSettings = {} } })
    -- the fields rule files written before kinds matched on are still there
    assert.same({ "invalid-value", "wrap_up_policy", "acwSettings.wrapupPrompt", "invalid.value" },
      { p.kind, p.definition_field, p.field, p.code })
    p = first("platform", { method = "PUT", path = "/api/v2/routing/queues/{id}", params = { id = ORG.queues[5].id },
      json = { name = Q.name, skillEvaluationMethod = "ALL", mediaSettings = {} } })
    assert.same({ "duplicate-name", "name" }, { p.kind, p.definition_field })
  end)

  it("says the same of the tutorial dialect's 400s", function()
    local payload = { name = "Q", description = "", outbound_queue = false, wrap_up_policy = "required",
      skills = { { id = ENGLISH.id, level = 3 } }, members = { { id = "nobody", priority = 1 } },
      skill_config = { acw_timer_required = true, acw_timeout = 60 } }
    local p = first("tutorial", { method = "PUT", path = "/tutorial/api/v2/routing/queues/{id}",
      params = { id = Q.id }, json = payload })
    assert.same({ "unknown-user", "members", "nobody" }, { p.kind, p.definition_field, p.entity })
  end)

  it("keeps rule files written for the problem tables before kinds working", function()
    -- the example rule as it was: it matched the plan's English message
    local old = { name = "old-drop-unknown-member",
      match = function(problem)
        if (problem.message or ""):match("^Member '.-' not found") then
          return problem.entity or problem.message:match("'([^']+)'")
        end
      end,
      fix = function(d, id)
        for i, m in ipairs(d.members) do if m.id == id then table.remove(d.members, i); return "left out " .. id end end
      end }
    local d = { name = "Q", skills = {}, members = { { id = "nobody", priority = 1 } } }
    local plan = require("gcrun.api").new("platform", nil):plan(d, { queue = {}, members = {}, agents = {} })
    local done = correct.apply({ old }, d, plan.problems)
    assert.same({ { rule = "old-drop-unknown-member", change = "left out nobody", source = "plan" } }, done)
    -- and the bundled wrap-up rule as it was matched the platform's field name
    local field_rule = { name = "old-wrap-up", match = function(p) return p.field == "acwSettings.wrapupPrompt" end,
      fix = function(dd) dd.wrap_up_policy = "required"; return "fixed" end }
    local p = first("platform", { method = "PUT", path = "/api/v2/routing/queues/{id}", params = { id = Q.id },
      json = { name = Q.name, acwSettings = { wrapupPrompt = "SOMETIMES" }, skillEvaluationMethod = "ALL",
        mediaSettings = {} } })
    d.wrap_up_policy = "sometimes"
    assert.same({ "old-wrap-up" }, rule_names(correct.apply({ field_rule }, d, { p })))
  end)
end)
