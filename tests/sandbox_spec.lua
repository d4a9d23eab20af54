-- The sandbox org behaves like the service: real paths, paging, error
-- bodies and codes, validation, rate limits, faults, locks, persistence,
-- and the tutorial's wire format under /tutorial.
local h = require "tests.helpers"
local http = require "gcrun.http"
local json = require "gcrun.json"
local launch = require "gcrun.sandbox.launch"
local oauth = require "gcrun.oauth"
local sys = require "gcrun.sys"

local ORG = json.decode(h.read(h.srcdir .. "/examples/sandbox-org.json"))
local BILLING, TECH = ORG.queues[1], ORG.queues[2]
local ADA, GRACE = ORG.users[1], ORG.users[2]
local ENGLISH, BILLING_SKILL = ORG.skills[1], ORG.skills[5]

local function start(opts)
  opts = opts or {}
  if opts.state == nil then opts.state = false end
  opts.org = opts.org or (h.srcdir .. "/examples/sandbox-org.json")
  local sb = launch.start(opts)
  local _, creds = oauth.resolve { base_url = sb.url .. (opts.tutorial and "/tutorial" or ""),
    client_id = sb.client_id, client_secret = sb.client_secret, env_file = false,
    token = opts.tutorial and require("gcrun.api.tutorial").token or nil }
  sb.client = http.client { base_url = sb.url, auth = creds, max_attempts = opts.attempts or 1, concurrency = 16,
    pace = not opts.no_pacing }
  sb.raw = http.client { base_url = sb.url, max_attempts = 1 }
  return sb
end

local function err_shape(r, status, code)
  assert.equal(status, r.status)
  local b = r:json()
  assert.equal(status, b.status)
  assert.equal(code, b.code)
  assert.is_string(b.message)
  assert.matches("^%x+%-%x+%-%x+%-%x+%-%x+$", b.contextId)
  assert.is_table(b.messageParams)
  assert.is_table(b.details)
  assert.is_table(b.errors)
  return b
end

local function queue_path(id) return "/api/v2/routing/queues/" .. id end

describe("sandbox platform API", function()
  local sb, c

  before_each(function()
    sb = start()
    c = sb.client
  end)
  after_each(function() sb.server:stop() end)

  local function get(path, query) return c:request { path = path, query = query } end

  it("issues tokens for the example client by client credentials at /oauth/token", function()
    local r = sb.raw:request { method = "POST", path = "/oauth/token", body = "grant_type=client_credentials",
      headers = { Authorization = "Basic Z2NydW4tZXhhbXBsZS1jbGllbnQ6Z2NydW4tZXhhbXBsZS1zZWNyZXQ=",
        ["Content-Type"] = "application/x-www-form-urlencoded" } }
    assert.equal(200, r.status)
    local t = r:json()
    assert.equal("bearer", t.token_type)
    assert.equal(86400, t.expires_in)
    r = sb.raw:request { method = "POST", path = "/oauth/token", body = "grant_type=client_credentials",
      headers = { Authorization = "Basic d3Jvbmc6d3Jvbmc=" } }
    assert.equal(401, r.status)
    assert.equal("invalid_client", r:json().error)
  end)

  it("refuses requests without a token or with a bad one", function()
    err_shape(sb.raw:request { path = queue_path(BILLING.id) }, 401, "authentication.required")
    err_shape(sb.raw:request { path = queue_path(BILLING.id), headers = { Authorization = "Bearer nope" } },
      401, "bad.credentials")
  end)

  it("returns a queue without the sandbox's bookkeeping, with member counts", function()
    local q = get(queue_path(BILLING.id)):json()
    assert.equal(BILLING.name, q.name)
    assert.equal(#BILLING.members, q.memberCount)
    assert.is_nil(q._members)
    assert.is_nil(q.members)
    assert.matches('"routingRules":%[%]', get(queue_path(BILLING.id)).body)
  end)

  it("answers 404 not.found for an unknown queue", function()
    err_shape(get(queue_path("no-such-queue")), 404, "not.found")
  end)

  it("pages queue listings with nextUri, at most 500 a page", function()
    local p1 = get("/api/v2/routing/queues", { pageSize = 5 }):json()
    assert.equal(5, #p1.entities)
    assert.equal(#ORG.queues, p1.total)
    assert.equal(3, p1.pageCount)
    assert.matches("pageNumber=2", p1.nextUri)
    local p3 = c:request({ path = p1.lastUri }):json()
    assert.is_nil(p3.nextUri)
    assert.equal(#ORG.queues - 10, #p3.entities)
    err_shape(get("/api/v2/routing/queues", { pageSize = 501 }), 400, "invalid.value")
    err_shape(get("/api/v2/routing/queues", { pageNumber = 0 }), 400, "invalid.value")
  end)

  it("filters queues by whole name, with leading and trailing asterisks allowed", function()
    local function names(filter)
      local list = {}
      for _, q in ipairs(get("/api/v2/routing/queues", { name = filter }):json().entities) do
        list[#list + 1] = q.name
      end
      return list
    end
    assert.same({ "Technical Support" }, names("technical support"))
    assert.same({}, names("Technical"))                -- not a prefix match
    assert.same({ "Technical Support" }, names("Tech*"))
    assert.same({ "Technical Support" }, names("*support"))
    assert.same({ "Technical Support" }, names("*cal sup*"))
  end)

  describe("PUT a queue", function()
    local function put(body, id)
      return c:request { method = "PUT", path = queue_path(id or BILLING.id), json = body }
    end
    local function current() return get(queue_path(BILLING.id)):json() end

    it("replaces the writable fields and keeps the read-only ones", function()
      local q = current()
      q.name, q.description = "Billing and Payments", "new"
      q.enableTranscription = nil                 -- left out: cleared, as the service does
      local r = put(q)
      assert.equal(200, r.status)
      local after = current()
      assert.equal("Billing and Payments", after.name)
      assert.is_nil(after.enableTranscription)
      assert.equal(BILLING.dateCreated, after.dateCreated)
      assert.equal(#BILLING.members, after.memberCount)
    end)

    it("requires a name", function()
      local q = current()
      q.name = ""
      local b = err_shape(put(q), 400, "invalid.value")
      assert.equal("name", b.details[1].fieldName)
    end)

    it("rejects a name another queue has, with duplicate.name", function()
      local q = current()
      q.name = TECH.name:upper()
      local b = err_shape(put(q), 400, "duplicate.name")
      assert.equal(TECH.name:upper(), b.messageParams.name)
    end)

    it("checks wrapupPrompt against its enum", function()
      local q = current()
      q.acwSettings = { wrapupPrompt = "SOMETIMES" }
      local b = err_shape(put(q), 400, "invalid.value")
      assert.matches("Value %[SOMETIMES%] is not valid for field wrapupPrompt", b.message)
    end)

    it("checks timeoutMs: required, allowed and in range as the prompt says", function()
      local q = current()
      q.acwSettings = { wrapupPrompt = "MANDATORY_TIMEOUT" }
      assert.matches("timeoutMs is required", err_shape(put(q), 400, "invalid.value").message)
      q.acwSettings = { wrapupPrompt = "OPTIONAL", timeoutMs = 5000 }
      assert.matches("timeoutMs can only be used", err_shape(put(q), 400, "invalid.value").message)
      q.acwSettings = { wrapupPrompt = "MANDATORY_TIMEOUT", timeoutMs = 999 }
      assert.matches("out of range", err_shape(put(q), 400, "invalid.value").message)
      q.acwSettings = { wrapupPrompt = "MANDATORY_TIMEOUT", timeoutMs = 3600001 }
      assert.matches("out of range", err_shape(put(q), 400, "invalid.value").message)
      q.acwSettings = { wrapupPrompt = "AGENT_REQUESTED", timeoutMs = 60000 }
      assert.equal(200, put(q).status)
    end)

    it("checks skillEvaluationMethod against its enum", function()
      local q = current()
      q.skillEvaluationMethod = "MOST"
      assert.matches("skillEvaluationMethod", err_shape(put(q), 400, "invalid.value").message)
    end)

    it("checks media settings ranges", function()
      local q = current()
      q.mediaSettings.call.alertingTimeoutSeconds = 3
      err_shape(put(q), 400, "invalid.value")
      q = current()
      q.mediaSettings.call.serviceLevel.percentage = 1.5
      err_shape(put(q), 400, "invalid.value")
    end)

    it("rejects a list field sent as an object", function()
      local q = current()
      q.routingRules = {}                         -- encodes as {}: not a list
      local b = err_shape(put(q), 400, "invalid.value")
      assert.equal("routingRules", b.details[1].fieldName)
    end)

    it("rejects a body id that differs from the path", function()
      local q = current()
      q.id = TECH.id
      err_shape(put(q), 400, "invalid.value")
    end)

    it("wants application/json and parsable JSON", function()
      local r = c:request { method = "PUT", path = queue_path(BILLING.id), body = "name=x",
        headers = { ["Content-Type"] = "text/plain" } }
      err_shape(r, 415, "unsupported.media.type")
      r = c:request { method = "PUT", path = queue_path(BILLING.id), body = "{\"name\": ",
        headers = { ["Content-Type"] = "application/json" } }
      assert.matches("Unable to parse", err_shape(r, 400, "bad.request").message)
    end)

    it("answers 405 with Allow for a method the path does not take", function()
      local r = c:request { method = "POST", path = queue_path(BILLING.id), json = {} }
      err_shape(r, 405, "method.not.allowed")
      assert.equal("GET, PUT, DELETE", r.headers.allow)
    end)
  end)

  describe("members", function()
    local function members(query)
      return get(queue_path(BILLING.id) .. "/members", query or { pageSize = 100 })
    end
    local function post(body, delete)
      return c:request { method = "POST", path = queue_path(BILLING.id) .. "/members",
        query = { delete = delete and "true" or "false" }, json = body }
    end

    it("lists members with ring numbers, paged, at most 100 a page", function()
      local page = members():json()
      assert.equal(#BILLING.members, page.total)
      assert.equal(1, page.entities[1].ringNumber)
      assert.is_string(page.entities[1].user.name)
      err_shape(members { pageSize = 101 }, 400, "invalid.value")
    end)

    it("adds and removes members in bulk", function()
      assert.equal(200, post({ { id = GRACE.id } }).status)
      assert.equal(#BILLING.members + 1, members():json().total)
      assert.equal(200, post({ { id = GRACE.id } }, true).status)
      assert.equal(#BILLING.members, members():json().total)
    end)

    it("rejects more than 100 members in one call", function()
      local many = {}
      for i = 1, 101 do many[i] = { id = ORG.users[(i - 1) % #ORG.users + 1].id .. (i > #ORG.users and i or "") } end
      assert.matches("At most 100 members", err_shape(post(many), 400, "invalid.value").message)
    end)

    it("rejects unknown users and duplicates, changing nothing", function()
      local b = err_shape(post({ { id = GRACE.id }, { id = "ghost" } }), 400, "invalid.value")
      assert.equal("ghost", b.details[1].entityId)
      err_shape(post({ { id = GRACE.id }, { id = GRACE.id } }), 400, "invalid.value")
      assert.equal(#BILLING.members, members():json().total)
    end)

    it("sets a ring number with PATCH, 1 to 6", function()
      local path = queue_path(BILLING.id) .. "/members/" .. BILLING.members[1].id
      assert.equal(202, c:request({ method = "PATCH", path = path, json = { ringNumber = 3 } }).status)
      local m = members():json().entities
      local found
      for _, e in ipairs(m) do if e.id == BILLING.members[1].id then found = e end end
      assert.equal(3, found.ringNumber)
      err_shape(c:request { method = "PATCH", path = path, json = { ringNumber = 7 } }, 400, "invalid.value")
      err_shape(c:request { method = "PATCH", path = queue_path(BILLING.id) .. "/members/" .. GRACE.id,
        json = { ringNumber = 2 } }, 404, "not.found")
    end)
  end)

  describe("skills", function()
    it("lists the org's skills, paged", function()
      local p = get("/api/v2/routing/skills", { pageSize = 100 }):json()
      assert.equal(#ORG.skills, p.total)
    end)

    it("returns users by id with their skills", function()
      local p = get("/api/v2/users", { id = { ADA.id, GRACE.id, "ghost" }, expand = "skills" }):json()
      assert.equal(2, #p.entities)
      assert.is_table(p.entities[1].skills)
    end)

    it("refuses more than 100 user ids with max.user.ids", function()
      local ids = {}
      for i = 1, 101 do ids[i] = "u" .. i end
      err_shape(get("/api/v2/users", { id = table.concat(ids, ",") }), 400, "max.user.ids")
    end)

    it("adds and updates skills in bulk, keeping the agent's others", function()
      local path = "/api/v2/users/" .. ADA.id .. "/routingskills/bulk"
      local before = #get("/api/v2/users/" .. ADA.id .. "/routingskills"):json().entities
      local r = c:request { method = "PATCH", path = path, json = { { id = ENGLISH.id, proficiency = 4 },
        { id = BILLING_SKILL.id, proficiency = 2.5 } } }
      assert.equal(200, r.status)
      local after = get("/api/v2/users/" .. ADA.id .. "/routingskills"):json().entities
      assert.is_true(#after >= before and #after >= 2)
    end)

    it("rejects unknown skills, bad proficiencies and more than 50 skills", function()
      local path = "/api/v2/users/" .. ADA.id .. "/routingskills/bulk"
      local b = err_shape(c:request { method = "PATCH", path = path, json = { { id = "nope", proficiency = 1 } } },
        400, "invalid.value")
      assert.equal("Skill 'nope' not found", b.message)
      err_shape(c:request { method = "PATCH", path = path, json = { { id = ENGLISH.id, proficiency = 6 } } },
        400, "invalid.value")
      local many = {}
      for i = 1, 51 do many[i] = { id = ENGLISH.id, proficiency = 1 } end
      err_shape(c:request { method = "PATCH", path = path, json = many }, 400, "invalid.value")
    end)
  end)

  describe("flows", function()
    local FLOW = ORG.flows[1]
    local function action(name, id, query)
      query = query or {}
      query.flow = id or FLOW.id
      return c:request { method = "POST", path = "/api/v2/flows/actions/" .. name, query = query }
    end

    it("finds the flows that route to a queue through dependency tracking", function()
      local p = get("/api/v2/architect/dependencytracking/consumingresources",
        { id = BILLING.id, objectType = "QUEUE" }):json()
      local names = {}
      for _, e in ipairs(p.entities) do names[#names + 1] = e.name; assert.equal("INBOUNDCALLFLOW", e.type) end
      assert.same({ "Inbound 01", "Inbound 05", "Tutorial example flow" }, names)
      err_shape(get("/api/v2/architect/dependencytracking/consumingresources", { id = BILLING.id }),
        400, "architect.query.parameter.missing")
    end)

    it("checks out, saves a version, publishes and checks in", function()
      assert.equal(200, action("checkout").status)
      local cfg = get("/api/v2/flows/" .. FLOW.id .. "/latestconfiguration"):json()
      cfg.nodes[3].config.queueName = "Renamed"
      local r = c:request { method = "POST", path = "/api/v2/flows/" .. FLOW.id .. "/versions", json = cfg }
      assert.equal(200, r.status)
      assert.equal("2", r:json().id)
      assert.equal(200, action("publish", nil, { version = 2 }).status)
      assert.equal(200, action("checkin").status)
      local f = get("/api/v2/flows/" .. FLOW.id):json()
      assert.equal("2", f.publishedVersion.id)
      assert.is_nil(f.lockedClient)
    end)

    it("answers 409 to a save with a stale version", function()
      action("checkout")
      local cfg = get("/api/v2/flows/" .. FLOW.id .. "/latestconfiguration"):json()
      local path = "/api/v2/flows/" .. FLOW.id .. "/versions"
      assert.equal(200, c:request({ method = "POST", path = path, json = cfg }).status)
      local b = err_shape(c:request { method = "POST", path = path, json = cfg }, 409, "general.conflict")
      assert.matches("does not match the current version", b.message)
    end)

    it("answers 409 to a save without the lock, and to a checkout of a flow locked by another", function()
      local cfg = get("/api/v2/flows/" .. FLOW.id .. "/latestconfiguration"):json()
      err_shape(c:request { method = "POST", path = "/api/v2/flows/" .. FLOW.id .. "/versions", json = cfg },
        409, "general.conflict")
      local other = start { flow_locks = 1, seed = 1 }
      local r = other.client:request { method = "POST", path = "/api/v2/flows/actions/checkout",
        query = { flow = FLOW.id } }
      err_shape(r, 409, "general.conflict")
      assert.matches("checked out by Sandbox Admin", r:json().message)
      other.server:stop()
    end)

    it("rejects a configuration whose queue node names a missing queue", function()
      action("checkout")
      local cfg = get("/api/v2/flows/" .. FLOW.id .. "/latestconfiguration"):json()
      cfg.nodes[3].config.queueId = "ghost"
      err_shape(c:request { method = "POST", path = "/api/v2/flows/" .. FLOW.id .. "/versions", json = cfg },
        400, "architect.object.validate.failed")
    end)

    it("answers architect.flow.not.found for an unknown flow", function()
      err_shape(action("checkout", "nope"), 404, "architect.flow.not.found")
    end)

    it("lets an administrator break a lock", function()
      local other = start { flow_locks = 1, seed = 1 }
      local q = { flow = FLOW.id }
      other.client:request { method = "POST", path = "/api/v2/flows/actions/checkout", query = q }
      assert.equal(200, other.client:request({ method = "POST", path = "/api/v2/flows/actions/unlock", query = q }).status)
      local r = other.client:request { method = "POST", path = "/api/v2/flows/actions/checkout", query = q }
      other.server:stop()
      assert.equal(200, r.status)
    end)
  end)
end)

describe("sandbox rate limit, latency and faults", function()
  it("sends the rate-limit headers and 429 with Retry-After over the budget", function()
    local sb = start { rate = 5, no_pacing = true }
    local last
    for _ = 1, 6 do last = sb.client:request { path = "/api/v2/routing/skills" } end
    sb.server:stop()
    local b = err_shape(last, 429, "too.many.requests")
    assert.matches("maximum %[5%] requests within %[60%] seconds", b.message)
    assert.equal("6", last.headers["inin-ratelimit-count"])
    assert.equal("5", last.headers["inin-ratelimit-allowed"])
    assert.is_truthy(tonumber(last.headers["inin-ratelimit-reset"]))
    assert.is_truthy(tonumber(last.headers["retry-after"]))
  end)

  it("adds latency to each answer without serialising them", function()
    local sb = start { latency = 300 }
    sb.client:request { path = "/api/v2/routing/skills" }   -- token first
    local t0 = sys.clock()
    http.parallel({ 1, 2, 3, 4, 5, 6, 7, 8 }, function()
      return sb.client:request { path = "/api/v2/routing/skills" }
    end, { concurrency = 8 })
    local t = sys.clock() - t0
    sb.server:stop()
    assert.is_true(t >= 0.29 and t < 0.7, "8 requests with 300 ms latency took " .. t)
  end)

  local function count_statuses(opts, n)
    local sb = start(opts)
    local seen = {}
    sb.client:request { path = "/api/v2/routing/skills" }
    for _ = 1, n do
      local r, err = sb.client.safe:request { path = "/api/v2/routing/skills" }
      local key = r and tostring(r.status) or err.code
      seen[key] = (seen[key] or 0) + 1
    end
    local stats = sb.raw:request({ path = "/sandbox/stats" }):json()
    sb.server:stop()
    return seen, stats
  end

  it("injects 503s, 429s and dropped connections at the given rates, reproducibly", function()
    local a, stats = count_statuses({ faults = { ["503"] = 0.3, ["429"] = 0.2, drop = 0.2 }, seed = 7 }, 60)
    local b = count_statuses({ faults = { ["503"] = 0.3, ["429"] = 0.2, drop = 0.2 }, seed = 7 }, 60)
    assert.same(a, b)
    assert.is_true((a["503"] or 0) > 5 and (a["429"] or 0) > 2, json.encode(a))
    assert.is_true((stats.injected.drop or 0) > 3, json.encode(stats.injected))
    assert.is_true((a["200"] or 0) > 10)
  end)

  it("makes a concurrent editor bump the version between a read and a save", function()
    local sb = start { flow_editor = 1, seed = 3 }
    local flow = ORG.flows[1]
    sb.client:request { method = "POST", path = "/api/v2/flows/actions/checkout", query = { flow = flow.id } }
    local cfg = sb.client:request({ path = "/api/v2/flows/" .. flow.id .. "/latestconfiguration" }):json()
    local r = sb.client:request { method = "POST", path = "/api/v2/flows/" .. flow.id .. "/versions", json = cfg }
    local stats = sb.raw:request({ path = "/sandbox/stats" }):json()
    sb.server:stop()
    assert.equal(409, r.status)
    assert.equal(1, stats.editor_edits)
  end)

  it("lags newly added members when asked to (eventual consistency)", function()
    local sb = start { member_lag = 400 }
    local q = ORG.queues[1]
    sb.client:request { method = "POST", path = queue_path(q.id) .. "/members", json = { { id = GRACE.id } } }
    local path = queue_path(q.id) .. "/members/" .. GRACE.id
    assert.equal(404, sb.client:request({ method = "PATCH", path = path, json = { ringNumber = 2 } }).status)
    http.sleep(0.45)
    assert.equal(202, sb.client:request({ method = "PATCH", path = path, json = { ringNumber = 2 } }).status)
    sb.server:stop()
  end)
end)

describe("sandbox persistence", function()
  it("saves after every write and reloads on start", function()
    local dir = h.tmpdir()
    local state = dir .. "/state/org.json"
    local sb = start { state = state }
    local q = sb.client:request({ path = queue_path(BILLING.id) }):json()
    q.description = "persisted"
    assert.equal(200, sb.client:request({ method = "PUT", path = queue_path(BILLING.id), json = q }).status)
    -- the answer came after the save: the file already has it
    assert.matches('"description":"persisted"', h.read(state))
    sb.server:stop()
    local again = start { state = state }
    assert.equal("persisted", again.client:request({ path = queue_path(BILLING.id) }):json().description)
    again.server:stop()
    h.rmtree(dir)
  end)

  it("resets the saved state from the org file with gcrun sandbox --reset", function()
    local dir = h.tmpdir()
    local state = dir .. "/org.json"
    h.write(state, '{"clients":[{"id":"x","secret":"y"}]}')
    local r = h.run { "sandbox", "--reset", "--state", state }
    assert.equal(0, r.status, r.stderr)
    assert.matches("sandbox state reset", r.stderr)
    assert.equal(#ORG.queues, #json.decode(h.read(state)).queues)
    h.rmtree(dir)
  end)

  it("names the file and the field when an org file is broken", function()
    local dir = h.tmpdir()
    h.write(dir .. "/bad.json", '{"queues": [{"name": "no id"}]}')
    local ok, err = pcall(launch.start, { org = dir .. "/bad.json", state = false })
    assert.is_false(ok)
    assert.matches("bad%.json: queues%[1%]: missing id", tostring(err.message or err))
    h.rmtree(dir)
  end)
end)

describe("gcrun sandbox in the foreground", function()
  it("prints its URL and example credentials, logs each request, and saves on Ctrl-C", function()
    local dir = h.tmpdir()
    local state = dir .. "/state.json"
    local cmd = string.format("%s sandbox --port 0 --state %s >%s/out 2>%s/err & pid=$!; " ..
      "for i in $(seq 50); do grep -q 'serving' %s/out 2>/dev/null && break; sleep 0.1; done; " ..
      "url=$(sed -n 's/.*serving a sandbox org at //p' %s/out); " ..
      "curl -s -o /dev/null -u gcrun-example-client:gcrun-example-secret -d grant_type=client_credentials $url/oauth/token; " ..
      "kill -INT $pid; wait $pid; echo $? >%s/status", h.quote(h.bin), h.quote(state), dir, dir, dir, dir, dir)
    os.execute(cmd)
    local out, err = h.read(dir .. "/out"), h.read(dir .. "/err")
    assert.equal("0\n", h.read(dir .. "/status"))
    assert.matches("serving a sandbox org at http://127%.0%.0%.1:%d+", out)
    assert.matches("client id +gcrun%-example%-client", out)
    assert.matches("client secret +gcrun%-example%-secret", out)
    assert.matches("POST /oauth/token %-> 200", err)
    assert.matches("stopped; state saved to " .. state:gsub("%p", "%%%0"), err)
    assert.equal(#ORG.queues, #json.decode(h.read(state)).queues)
    h.rmtree(dir)
  end)
end)

describe("sandbox tutorial API", function()
  local sb, c

  before_each(function()
    sb = start { tutorial = true }
    c = sb.client
  end)
  after_each(function() sb.server:stop() end)

  local function put(body)
    return c:request { method = "PUT", path = "/tutorial/api/v2/routing/queues/" .. BILLING.id, json = body }
  end
  local function payload()
    return { name = "Billing", description = "d", outbound_queue = false,
      skills = { { id = ENGLISH.id, level = 3 } }, members = { { id = ADA.id, priority = 1 } },
      wrap_up_policy = "required", skill_config = { acw_timer_required = true, acw_timeout = 300 } }
  end

  it("takes the tutorial's payload and shows it back", function()
    assert.equal(200, put(payload()).status)
    local q = c:request({ path = "/tutorial/api/v2/routing/queues/" .. BILLING.id }):json()
    assert.same({ { id = ADA.id, priority = 1 } }, q.members)
    assert.same({ { id = ENGLISH.id, level = 3 } }, q.skills)
    assert.equal("required", q.wrap_up_policy)
    local platform = c:request({ path = queue_path(BILLING.id) }):json()
    assert.same({ wrapupPrompt = "MANDATORY_TIMEOUT", timeoutMs = 300000 }, platform.acwSettings)
  end)

  it("names an unknown skill in single quotes, as the tutorial's rule expects", function()
    local p = payload()
    p.skills[2] = { id = "skill-x", level = 2 }
    local b = err_shape(put(p), 400, "invalid.value")
    assert.equal("Skill 'skill-x' not found", b.errors[1].message)
  end)

  it("reports duplicate members and an invalid wrap_up_policy", function()
    local p = payload()
    p.members[2] = { id = ADA.id, priority = 2 }
    p.wrap_up_policy = "sometimes"
    local b = err_shape(put(p), 400, "invalid.value")
    local msgs = {}
    for _, e in ipairs(b.errors) do msgs[#msgs + 1] = e.message end
    assert.matches("Duplicate member '" .. ADA.id:gsub("%-", "%%-") .. "'", table.concat(msgs, "\n"))
    assert.matches("Invalid wrap_up_policy 'sometimes'", table.concat(msgs, "\n"))
  end)

  it("versions flows: a PUT must carry the current version plus one", function()
    local path = "/tutorial/api/v2/flow/flows/example-flow-id"
    local f = c:request({ path = path }):json()
    local stale = json.copy(f)
    f.version = f.version + 1
    assert.equal(200, c:request({ method = "PUT", path = path, json = f }).status)
    stale.version = stale.version + 1
    err_shape(c:request { method = "PUT", path = path, json = stale }, 409, "general.conflict")
  end)
end)

describe("the tutorial's own script", function()
  local function python_with_requests()
    for _, py in ipairs { "python3", "/usr/bin/python3" } do
      local ok = os.execute(py .. " -c 'import requests' >/dev/null 2>&1")
      if ok then return py end
    end
  end

  it("runs unmodified against the sandbox and updates the queues and the flow node", function()
    local py = python_with_requests()
    if not py then
      pending("python3 with the requests module is not installed (apt-get install python3-requests)")
      return
    end
    local sb = start {}
    local dir = h.tmpdir()
    for _, f in ipairs { "queue_01.json", "queue_02.json" } do
      h.write(dir .. "/" .. f, h.read(h.srcdir .. "/examples/tutorial/" .. f))
    end
    local cmd = string.format("cd %s && GENESYS_CLIENT_ID=%s GENESYS_CLIENT_SECRET=%s GENESYS_BASE_URL=%s %s %s >%s/out 2>&1",
      h.quote(dir), h.quote(sb.client_id), h.quote(sb.client_secret), h.quote(sb.url .. "/tutorial"), py,
      h.quote(h.srcdir .. "/tests/fixtures/tutorial/tutorial_example.py"), h.quote(dir))
    local ok = os.execute(cmd)
    local out = h.read(dir .. "/out")
    local state = sb.raw:request({ path = "/sandbox/org" }):json()
    sb.server:stop()
    assert.is_true(ok, out)
    local report = json.decode(h.read(dir .. "/queue_impact_report.json"))
    assert.equal(2, report.total_queues_updated)
    assert.equal("success", report.changes[1].status)
    local names = {}
    for _, q in ipairs(state.queues) do names[q.id] = q.name end
    assert.equal("Billing Support", names[BILLING.id])
    assert.equal("Tech Support", names[TECH.id])
    local flow
    for _, f in ipairs(state.flows) do if f.id == "example-flow-id" then flow = f end end
    local node_names = {}
    for _, n in ipairs(flow.configuration.nodes) do
      if n.type == "Queue" then node_names[#node_names + 1] = n.config.queueName end
    end
    assert.same({ "Billing Support", "Tech Support" }, node_names)
    h.rmtree(dir)
  end)
end)

describe("the in-process sandbox's default state", function()
  it("is kept in memory, never creating a HOME that does not exist", function()
    local dir = h.tmpdir()
    local home = dir .. "/no-such-home"
    local r = h.run({ "-v", "queue-sync", "--sandbox", "--report", dir .. "/r.json",
      h.srcdir .. "/examples/queues/claims.json" }, { env = { HOME = home, XDG_STATE_HOME = false } })
    local made = sys.stat(home)
    h.rmtree(dir)
    assert.equal(0, r.status, r.stderr)
    assert.is_nil(made, "the missing HOME was created")
    assert.truthy(r.stderr:find("HOME (" .. home .. ") is not a directory: the sandbox org is kept in memory", 1, true),
      r.stderr)
  end)
end)
