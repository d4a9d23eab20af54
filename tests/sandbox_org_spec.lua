-- The sandbox serves what name-based definitions and bulk reads need
-- (issues 13 and 14), as the service does: queue creation with its
-- checks, new queues seen late, lists filtered by id and name, users with
-- their skills, the user search, flows and divisions, and a second org
-- with the same names under other ids.
local h = require "tests.helpers"
local http = require "gcrun.http"
local json = require "gcrun.json"
local launch = require "gcrun.sandbox.launch"
local oauth = require "gcrun.oauth"

local ORG_FILE = h.srcdir .. "/examples/sandbox-org.json"
local ORG = json.decode(h.read(ORG_FILE))
local BILLING, TECH = ORG.queues[1], ORG.queues[2]
local ADA, GRACE = ORG.users[1], ORG.users[2]

local function start(opts)
  opts = opts or {}
  opts.state = opts.state or false
  opts.org = opts.org or ORG_FILE
  opts.rate = opts.rate or 100000
  local sb = launch.start(opts)
  local _, creds = oauth.resolve { base_url = sb.url, client_id = sb.client_id, client_secret = sb.client_secret,
    env_file = false }
  sb.client = http.client { base_url = sb.url, auth = creds, max_attempts = 1 }
  return sb
end

local function err_shape(r, status, code)
  assert.equal(status, r.status, r.body)
  local b = r:json()
  assert.equal(status, b.status)
  assert.equal(code, b.code)
  assert.is_string(b.message)
  assert.is_table(b.details)
  return b
end

-- a CreateQueueRequest with what the service requires
local function new_queue(name)
  return { name = name, description = "made by a test",
    acwSettings = { wrapupPrompt = "MANDATORY_TIMEOUT", timeoutMs = 30000 },
    skillEvaluationMethod = "ALL",
    mediaSettings = { call = { alertingTimeoutSeconds = 8, serviceLevel = { percentage = 0.8, durationMs = 20000 } } } }
end

describe("sandbox queue creation", function()
  local sb, c
  before_each(function()
    sb = start()
    c = sb.client
  end)
  after_each(function() sb.server:stop() end)

  local function post(body) return c:request { method = "POST", path = "/api/v2/routing/queues", json = body } end

  it("creates a queue with POST /api/v2/routing/queues and answers the Queue", function()
    local r = post(new_queue("Claims Overflow"))
    assert.equal(200, r.status, r.body)
    local q = r:json()
    assert.matches("^%x+%-%x+%-4%x+%-%x+%-%x+$", q.id)
    assert.equal("Claims Overflow", q.name)
    assert.equal(0, q.memberCount)
    assert.equal(1, q.version)
    assert.equal("Home", q.division.name)
    assert.equal("/api/v2/routing/queues/" .. q.id, q.selfUri)
    local got = c:request({ path = q.selfUri }):json()
    assert.equal("made by a test", got.description)
    assert.equal(200, c:request({ method = "POST", path = q.selfUri .. "/members", json = { { id = ADA.id } } }).status)
  end)

  it("answers 400 duplicate.name for a name taken (ignoring case), creating nothing", function()
    local b = err_shape(post(new_queue(BILLING.name:lower())), 400, "duplicate.name")
    assert.equal(BILLING.id, b.details[1].entityId)
    local all = c:request({ path = "/api/v2/routing/queues", query = { pageSize = 500 } }):json()
    assert.equal(#ORG.queues, all.total)
  end)

  it("checks the request as the service does: name, required settings, enums, division", function()
    local q = new_queue("")
    assert.equal("name", err_shape(post(q), 400, "invalid.value").details[1].fieldName)
    q = new_queue("No ACW")
    q.acwSettings = nil
    assert.equal("acwSettings", err_shape(post(q), 400, "invalid.value").details[1].fieldName)
    q = new_queue("No media")
    q.mediaSettings = nil
    err_shape(post(q), 400, "invalid.value")
    q = new_queue("Bad method")
    q.skillEvaluationMethod = "MOST"
    err_shape(post(q), 400, "invalid.value")
    q = new_queue("Bad division")
    q.division = { id = "no-such-division" }
    assert.equal("division.id", err_shape(post(q), 400, "invalid.value").details[1].fieldName)
    err_shape(c:request { method = "POST", path = "/api/v2/routing/queues", body = "[]",
      headers = { ["Content-Type"] = "application/json" } }, 400, "bad.request")
  end)

  it("copies an existing queue's settings with sourceQueueId", function()
    local r = post { name = "Billing Copy", sourceQueueId = BILLING.id }
    assert.equal(200, r.status, r.body)
    local q = r:json()
    assert.same(BILLING.acwSettings, q.acwSettings)
    assert.equal(0, q.memberCount)
  end)
end)

describe("sandbox eventual consistency of new queues (--queue-lag)", function()
  it("answers 404 for a new queue and leaves it out of lists until the lag has passed", function()
    local sb = start { queue_lag = 500 }
    local c = sb.client
    local q = c:request({ method = "POST", path = "/api/v2/routing/queues", json = new_queue("Lagging") }):json()
    err_shape(c:request { path = q.selfUri }, 404, "not.found")
    err_shape(c:request { path = q.selfUri .. "/members" }, 404, "not.found")
    assert.equal(0, c:request({ path = "/api/v2/routing/queues", query = { name = "Lagging" } }):json().total)
    -- the name is taken at once all the same
    err_shape(c:request { method = "POST", path = "/api/v2/routing/queues", json = new_queue("Lagging") },
      400, "duplicate.name")
    http.sleep(0.55)
    assert.equal(200, c:request({ path = q.selfUri }).status)
    assert.equal(1, c:request({ path = "/api/v2/routing/queues", query = { name = "Lagging" } }):json().total)
    sb.server:stop()
  end)
end)

describe("sandbox bulk reads", function()
  local sb, c
  before_each(function()
    sb = start()
    c = sb.client
  end)
  after_each(function() sb.server:stop() end)
  local function get(path, query) return c:request { path = path, query = query } end

  it("lists queues by id (repeated or comma-separated) and by division", function()
    local p = get("/api/v2/routing/queues", { id = { BILLING.id, TECH.id, "ghost" }, pageSize = 100 }):json()
    assert.equal(2, p.total)
    local ids = { p.entities[1].id, p.entities[2].id }
    table.sort(ids)
    local want = { BILLING.id, TECH.id }
    table.sort(want)
    assert.same(want, ids)
    assert.equal(2, get("/api/v2/routing/queues", { id = BILLING.id .. "," .. TECH.id }):json().total)
    local home = get("/api/v2/authorization/divisions"):json().entities[1]
    assert.equal(#ORG.queues, get("/api/v2/routing/queues", { divisionId = home.id, pageSize = 100 }):json().total)
    assert.equal(0, get("/api/v2/routing/queues", { divisionId = "elsewhere" }):json().total)
  end)

  it("returns users by id with their routing skills under the User model's field names", function()
    local p = get("/api/v2/users", { id = { ADA.id, GRACE.id }, expand = "skills" }):json()
    assert.equal(2, p.total)
    for _, u in ipairs(p.entities) do
      assert.is_string(u.email)
      assert.equal("Home", u.division.name)
      assert.is_table(u.skills)
      for _, s in ipairs(u.skills) do
        assert.is_string(s.id)
        assert.is_string(s.name)
        assert.is_number(s.proficiency)
        assert.equal("active", s.state)
        assert.equal("/api/v2/routing/skills/" .. s.id, s.skillUri)
      end
    end
    assert.is_nil(get("/api/v2/users", { id = ADA.id }):json().entities[1].skills)
  end)

  it("finds users by email with POST /api/v2/users/search", function()
    local r = c:request { method = "POST", path = "/api/v2/users/search", json = {
      pageSize = 25, expand = { "skills" },
      query = { { type = "EXACT", fields = { "email" }, values = { ADA.email:upper(), GRACE.email, "nobody@x" } } } } }
    assert.equal(200, r.status, r.body)
    local b = r:json()
    assert.equal(2, b.total)
    assert.equal(1, b.pageCount)
    assert.same({ "users" }, b.types)
    assert.is_string(b.currentPage)
    assert.is_table(b.results[1].skills)
    local emails = { b.results[1].email, b.results[2].email }
    table.sort(emails)
    local want = { ADA.email, GRACE.email }
    table.sort(want)
    assert.same(want, emails)
  end)

  it("pages a user search with nextPage (q64) and checks the request", function()
    local r = c:request { method = "POST", path = "/api/v2/users/search", json = {
      pageSize = 10, query = { { type = "CONTAINS", fields = { "email" }, value = "@example.com" } } } }
    local b = r:json()
    assert.equal(#ORG.users, b.total)
    assert.equal(10, #b.results)
    local p2 = c:request({ path = "/api/v2/users/search", query = { q64 = b.nextPage } }):json()
    assert.equal(2, p2.pageNumber)
    assert.not_equal(b.results[1].id, p2.results[1].id)
    err_shape(c:request { method = "POST", path = "/api/v2/users/search", json = { pageSize = 101,
      query = { { type = "MATCH_ALL" } } } }, 400, "invalid.value")
    err_shape(c:request { method = "POST", path = "/api/v2/users/search", json = {
      query = { { type = "FUZZY", fields = { "email" }, value = "x" } } } }, 400, "invalid.value")
    err_shape(c:request { method = "POST", path = "/api/v2/users/search", json = { query = {} } },
      400, "invalid.value")
  end)

  it("counts requests by route in /sandbox/stats", function()
    get("/api/v2/routing/queues/" .. BILLING.id)
    get("/api/v2/routing/queues/" .. TECH.id)
    get("/api/v2/routing/queues", { id = BILLING.id })
    local stats = http.client({ base_url = sb.url }):request({ path = "/sandbox/stats" }):json()
    assert.equal(2, stats.by_route["GET /api/v2/routing/queues/{}"])
    assert.equal(1, stats.by_route["GET /api/v2/routing/queues"])
    assert.equal(3, stats.by_method.GET)
  end)

  it("lists flows by name and by id, and divisions by name", function()
    local flow = ORG.flows[2]
    local p = get("/api/v2/flows", { name = flow.name }):json()
    assert.equal(1, p.total)
    assert.equal(flow.id, p.entities[1].id)
    p = get("/api/v2/flows", { id = { ORG.flows[1].id, flow.id } }):json()
    assert.equal(2, p.total)
    local d = get("/api/v2/authorization/divisions", { name = "home" }):json()
    assert.equal(1, d.total)
    assert.is_true(d.entities[1].homeDivision)
    assert.equal(0, get("/api/v2/authorization/divisions", { name = "Nowhere" }):json().total)
    assert.equal("Home", get("/api/v2/authorization/divisions/" .. d.entities[1].id):json().name)
  end)
end)

describe("a second sandbox org (--id-seed)", function()
  it("has the same names under other ids, the same every time", function()
    local a, b, b2 = start(), start { id_seed = 2 }, start { id_seed = 2 }
    local function org(sb) return http.client({ base_url = sb.url }):request({ path = "/sandbox/org" }):json() end
    local oa, ob, ob2 = org(a), org(b), org(b2)
    for _, kind in ipairs { "queues", "users", "skills", "flows", "divisions" } do
      assert.equal(#oa[kind], #ob[kind])
      for i = 1, #oa[kind] do
        assert.equal(oa[kind][i].name, ob[kind][i].name)
        assert.not_equal(oa[kind][i].id, ob[kind][i].id)
        assert.equal(ob[kind][i].id, ob2[kind][i].id)
      end
    end
    -- references follow: members, user skills, flow queue nodes
    local qb = ob.queues[1]
    assert.equal(#ORG.queues[1].members, #qb._members)
    local users = {}
    for _, u in ipairs(ob.users) do users[u.id] = true end
    for _, m in ipairs(qb._members) do assert.is_true(users[m.id]) end
    local node = ob.flows[1].configuration.nodes[3]
    assert.equal(ob.queues[1].id, node.config.queueId)
    -- and the API serves them
    assert.equal(200, b.client:request({ path = "/api/v2/routing/queues/" .. qb.id }).status)
    a.server:stop(); b.server:stop(); b2.server:stop()
  end)

  it("makes a saved state of the second org with gcrun sandbox --reset --id-seed", function()
    local dir = h.tmpdir()
    local r = h.run { "sandbox", "--reset", "--id-seed", "2", "--state", dir .. "/b.json" }
    assert.equal(0, r.status, r.stderr)
    local b = json.decode(h.read(dir .. "/b.json"))
    assert.equal(ORG.queues[1].name, b.queues[1].name)
    assert.not_equal(ORG.queues[1].id, b.queues[1].id)
    h.rmtree(dir)
  end)

  it("generates orgs with a home division and another", function()
    local data = require("gcrun.sandbox.generate").org { queues = 3, users = 5, flows = 1 }
    assert.equal(2, #data.divisions)
    assert.is_true(data.divisions[1].homeDivision)
    assert.equal(data.divisions[2].id, data.queues[3].division.id)
  end)
end)

describe("--sandbox with --rate and --latency", function()
  it("runs the in-process sandbox with that budget, and refuses them without --sandbox", function()
    local dir = h.tmpdir()
    local chunk = "local gc = require 'gcrun'; local r; for _ = 1, 3 do r = gc.client():request{path = " ..
      "'/api/v2/routing/queues'} end; print(r.headers['inin-ratelimit-allowed'], r.headers['inin-ratelimit-count'])"
    local r = h.run { "-e", chunk, "--sandbox", "--sandbox-state", dir .. "/s.json", "--rate", "120/min",
      "--latency", "10" }
    assert.equal(0, r.status, r.stderr)
    assert.matches("^120\t3", r.stdout)
    assert.matches("target: sandbox org at http://127%.0%.0%.1:%d+ %(state .*, 120 requests a minute, 10 ms latency%)",
      r.stderr)
    r = h.run({ "-e", chunk, "--base-url", "http://127.0.0.1:9", "--rate", "120/min" },
      { env = { GENESYSCLOUD_OAUTHCLIENT_ID = "x", GENESYSCLOUD_OAUTHCLIENT_SECRET = "y" } })
    assert.equal(2, r.status)
    assert.matches("need %-%-sandbox", r.stderr)
    r = h.run { "-e", chunk, "--sandbox", "--rate", "fast" }
    assert.equal(2, r.status)
    assert.matches("%-%-rate expects requests a minute", r.stderr)
    h.rmtree(dir)
  end)
end)

describe("the sandbox's saved state", function()
  it("is valid UTF-8 JSON when a value holds bytes that are not UTF-8", function()
    local dir = h.tmpdir()
    local org = assert(require("gcrun.sandbox.org").load(ORG_FILE))
    local q = org:list("queues")[1]
    q.description = "Billing \255\254 desk \192\175 \237\160\128"    -- stray, overlong, surrogate
    q["bad key \200"] = "x"
    assert(org:save(dir .. "/state.json"))
    local text = h.read(dir .. "/state.json")
    assert.truthy(utf8.len(text), "the saved state is not valid UTF-8")
    local saved = assert(json.decode(text))
    assert.equal("Billing \u{FFFD}\u{FFFD} desk \u{FFFD}\u{FFFD} \u{FFFD}\u{FFFD}\u{FFFD}", saved.queues[1].description)
    assert.equal("x", saved.queues[1]["bad key \u{FFFD}"])
    -- and it loads again
    assert(require("gcrun.sandbox.org").load(dir .. "/state.json"))
    h.rmtree(dir)
  end)
end)
