-- A run that fails before any queue starts (a listing the service
-- refuses) still says so everywhere: the report carries the error and
-- counts the requests the timeline and the service saw, and the summary
-- (or --output json's document) still prints.
local h = require "tests.helpers"
local json = require "gcrun.json"
local server = require "gcrun.server"

local Q = "8b5a7400-cca4-4239-9271-5e22c8399ed5"
local ENV = { GENESYSCLOUD_ACCESS_TOKEN = "test-token", GENESYSCLOUD_OAUTHCLIENT_ID = false,
  GENESYSCLOUD_OAUTHCLIENT_SECRET = false, GENESYSCLOUD_REGION = false, GENESYS_BASE_URL = false }

describe("a run that fails before its queues start", function()
  local dir, srv
  before_each(function()
    dir = h.tmpdir()
    srv = server.listen { handler = "tests.servers.answers", args = { routes = {
      ["/api/v2/routing/skills"] = { status = 400,
        body = '{"message": "bad skills query", "code": "bad.request", "status": 400}' },
    } } }
    h.write(dir .. "/q.json", json.encode { queue_id = Q, name = "Sales", members = {} })
  end)
  after_each(function()
    srv:stop()
    h.rmtree(dir)
  end)

  local function run(extra)
    local args = { "queue-sync", "--base-url", srv:url(), "--report", dir .. "/report.json", "--no-flows" }
    for _, a in ipairs(extra or {}) do args[#args + 1] = a end
    args[#args + 1] = dir .. "/q.json"
    return h.run(args, { env = ENV, cwd = dir })
  end

  it("reports its error and every request it sent", function()
    local r = run()
    assert.equal(1, r.status, r.stderr)
    assert.truthy(r.stderr:find("GET skills: HTTP 400 bad.request: bad skills query", 1, true), r.stderr)
    assert.truthy(r.stdout:find("queue-sync failed: 1 queue,", 1, true), r.stdout)
    assert.truthy(r.stdout:find("requests           1", 1, true), r.stdout)
    local doc = json.decode(h.read(dir .. "/report.json"))
    assert.equal("failed", doc.run.status)
    assert.equal("GET skills: HTTP 400 bad.request: bad skills query", doc.run.error)
    local seen = #json.decode(require("gcrun.http").client { base_url = srv:url() }:request({ path = "/seen" }).body)
    assert.equal(seen, doc.timeline.totals.requests)
    assert.equal(seen, doc.run.requests)
  end)

  it("says why in the Markdown and HTML reports", function()
    for _, ext in ipairs { "md", "html" } do
      local r = h.run({ "queue-sync", "--base-url", srv:url(), "--report", dir .. "/report." .. ext, "--no-flows",
        dir .. "/q.json" }, { env = ENV, cwd = dir })
      assert.equal(1, r.status, r.stderr)
      local page = h.read(dir .. "/report." .. ext)
      assert.truthy(page:find("The run failed:", 1, true), ext)
      assert.truthy(page:find("GET skills: HTTP 400 bad.request: bad skills query", 1, true), ext)
    end
  end)

  it("still prints the report's JSON with --output json", function()
    local r = run { "--output", "json" }
    assert.equal(1, r.status, r.stderr)
    local doc = assert(json.decode(r.stdout), r.stdout)
    assert.equal("failed", doc.run.status)
    assert.equal(1, doc.run.requests)
    assert.truthy(doc.run.error:find("bad skills query", 1, true))
  end)
end)

describe("an answer with no JSON error message", function()
  it("is named by its status once", function()
    local dir = h.tmpdir()
    local srv = server.listen { handler = "tests.servers.answers", args = { routes = {
      ["/api/v2/routing/skills"] = { status = 302, body = "" } } } }
    h.write(dir .. "/q.json", json.encode { queue_id = Q, name = "Sales" })
    local r = h.run({ "queue-sync", "--base-url", srv:url(), "--report", dir .. "/r.json", "--no-flows",
      dir .. "/q.json" }, { env = ENV, cwd = dir })
    srv:stop()
    h.rmtree(dir)
    assert.equal(1, r.status, r.stderr)
    assert.truthy(r.stderr:find("GET skills: HTTP 302: the answer has no JSON error message (GET http://", 1, true),
      r.stderr)
    assert.is_nil(r.stderr:find("HTTP 302 from", 1, true), r.stderr)
  end)
end)
