-- Ids and answers: ids are checked before they go into a URL, and the
-- service's answers are checked for the shape the client relies on before
-- anything is built from them.
local answers = require "gcrun.api.answers"
local definitions = require "gcrun.definitions"
local h = require "tests.helpers"
local http = require "gcrun.http"
local json = require "gcrun.json"
local platform = require "gcrun.api.platform"
local server = require "gcrun.server"

local Q = "8b5a7400-cca4-4239-9271-5e22c8399ed5"
local QUEUE = "/api/v2/routing/queues/" .. Q
local EMPTY = { body = '{"entities": [], "pageSize": 100, "pageNumber": 1, "pageCount": 1}' }

-- a service whose queue answers are `queue`, the rest empty listings
local function service(queue, extra)
  local routes = {
    ["/api/v2/routing/skills"] = EMPTY,
    ["GET " .. QUEUE] = { body = queue },
    [QUEUE .. "/members"] = EMPTY,
    ["/api/v2/users"] = EMPTY,
    ["/api/v2/architect/dependencytracking/consumingresources"] = EMPTY,
  }
  for k, v in pairs(extra or {}) do routes[k] = v end
  return server.listen { handler = "tests.servers.answers", args = { routes = routes } }
end

local function seen(srv)
  return http.client({ base_url = srv:url(), max_attempts = 1 }):request({ path = "/seen" }):json()
end

local function sync(srv, dir, def)
  h.write(dir .. "/q.json", json.encode(def))
  return h.run({ "queue-sync", "--base-url", srv:url(), "--report", dir .. "/report.json", "--no-flows",
    dir .. "/q.json" }, { env = { GENESYSCLOUD_ACCESS_TOKEN = "test-token", GENESYSCLOUD_OAUTHCLIENT_ID = false,
    GENESYSCLOUD_OAUTHCLIENT_SECRET = false, GENESYSCLOUD_REGION = false, GENESYS_BASE_URL = false }, cwd = dir })
end

describe("ids", function()
  it("a definition's queue_id must be shaped as the API's ids are", function()
    for _, id in ipairs { ".", "..", "../users", "a/b", Q .. "/..", "q1" } do
      local def, c = definitions.parse(json.encode { queue_id = id }, "q.json")
      assert.is_nil(def, id)
      assert.equal("queue_id", c.errors[1].field)
      assert.matches("must be a queue id %(a UUID", c.errors[1].reason)
    end
    assert.truthy(definitions.parse(json.encode { queue_id = Q:upper() }, "q.json"))
  end)

  it("so are the flow names and ids a definition lists (. and .. are neither)", function()
    local def, c = definitions.parse(json.encode { queue_id = Q, flows = { Q, ".." } }, "q.json")
    assert.is_nil(def)
    assert.equal("flows[2]", c.errors[1].field)
  end)

  describe("in URL paths", function()
    local srv
    before_each(function() srv = service("{}") end)
    after_each(function() srv:stop() end)

    it("refuses . and .. as a path parameter, sending nothing", function()
      local c = http.client { base_url = srv:url(), max_attempts = 1 }
      for _, id in ipairs { ".", ".." } do
        local ok, err = pcall(c.request, c, { path = "/api/v2/routing/queues/{id}", params = { id = id } })
        assert.is_false(ok)
        assert.matches("params%.id may not be '" .. id:gsub("%.", "%%.") .. "'", tostring(err))
      end
      assert.same({}, seen(srv))
    end)

    it("percent-encodes every other parameter as one path segment", function()
      local c = http.client { base_url = srv:url(), max_attempts = 1 }
      local resp = c:request { path = "/api/v2/routing/queues/{id}/members", params = { id = "a/../b?c=d#e" } }
      assert.matches("/api/v2/routing/queues/a%%2F%.%.%%2Fb%%3Fc%%3Dd%%23e/members$", resp.url)
    end)
  end)
end)

describe("answers", function()
  local dir
  before_each(function() dir = h.tmpdir() end)
  after_each(function() h.rmtree(dir) end)

  it("a queue answered as a JSON array fails that queue, and no PUT is built from it", function()
    local srv = service(json.encode { { id = Q, name = "Sales" } }, { ["PUT " .. QUEUE] = { body = "{}" } })
    local r = sync(srv, dir, { queue_id = Q, name = "Sales renamed", members = {} })
    local asked = seen(srv)
    srv:stop()
    assert.equal(1, r.status, r.stderr)
    assert.matches("GET queue " .. Q:gsub("%-", "%%-") .. ": the service's answer is a list, not an object", r.stdout)
    for _, line in ipairs(asked) do assert.is_nil(line:match("^PUT"), line) end
    local report = json.decode(h.read(dir .. "/report.json"))
    assert.equal("failed", report.changes[1].status)
  end)

  it("a queue answered with another queue's id fails that queue", function()
    local other = "00000000-0000-4000-8000-000000000002"
    local srv = service(json.encode { id = other, name = "Other" })
    local r = sync(srv, dir, { queue_id = Q, name = "Sales" })
    srv:stop()
    assert.equal(1, r.status, r.stderr)
    assert.matches("is queue " .. other:gsub("%-", "%%-") .. ", not " .. Q:gsub("%-", "%%-"), r.stdout)
  end)

  it("a nextUri that leaves the base URL fails the run as the service's answer, not as gcrun's fault", function()
    local srv = service(json.encode { id = Q, name = "Sales" }, { ["/api/v2/routing/skills"] = { body = json.encode {
      entities = { { id = "s1", name = "English" } }, nextUri = "http://evil.example/api/v2/routing/skills?pageNumber=2" } } })
    local r = sync(srv, dir, { queue_id = Q, name = "Sales" })
    srv:stop()
    assert.equal(1, r.status, r.stderr)
    assert.is_nil(r.stderr:find("internal error", 1, true), r.stderr)
    assert.truthy(r.stderr:find("GET skills: the service's answer has a nextUri that leaves http://127.0.0.1:", 1, true),
      r.stderr)
  end)

  it("a listing whose entities are not objects with ids is refused", function()
    local srv = service(json.encode { id = Q, name = "Sales" },
      { [QUEUE .. "/members"] = { body = '{"entities": ["u1", "u2"], "pageCount": 1}' } })
    local api = platform.new(http.client { base_url = srv:url(), max_attempts = 1 }):scope()
    local ok, err = pcall(api.read, api, { queue_id = Q, members = {} })
    srv:stop()
    assert.is_false(ok)
    assert.equal("bad_response", err.code)
    assert.matches("GET members: the service's answer has a string without a string id as entity 1", err.message)
  end)

  it("the tutorial dialect refuses a queue answered as a JSON array too", function()
    local srv = service(json.encode { { id = Q, name = "Sales" } })
    local api = require("gcrun.api.tutorial").new(http.client { base_url = srv:url(), max_attempts = 1 }):scope()
    local ok, err = pcall(api.read, api, { queue_id = Q, members = {} })
    srv:stop()
    assert.is_false(ok)
    assert.equal("bad_response", err.code)
    assert.matches("GET queue .*: the service's answer is a list, not an object", err.message)
  end)

  it("checks objects, queues and pages", function()
    assert.has_error(function() answers.object(json.array {}, "x") end)
    assert.has_error(function() answers.page({ entities = { 1 } }, "x") end)
    assert.has_error(function() answers.page({ entities = "none" }, "x") end)
    assert.has_error(function() answers.queue({ id = Q }, Q, "x") end)
    assert.equal(Q, answers.queue({ id = Q, name = "n" }, Q, "x").id)
    assert.truthy(answers.page({ entities = json.array {} }, "x"))
    assert.truthy(answers.page({}, "x"))
  end)
end)
