-- The report stays readable whatever the service or the files hold: the
-- JSON report is always valid JSON (valid UTF-8 included), and the
-- Markdown report shows HTML as text.
local h = require "tests.helpers"
local json = require "gcrun.json"
local server = require "gcrun.server"

local Q = "8b5a7400-cca4-4239-9271-5e22c8399ed5"
local QUEUE = "/api/v2/routing/queues/" .. Q
local EMPTY = { body = '{"entities": [], "pageCount": 1}' }

local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end

describe("the JSON report", function()
  local dir
  before_each(function() dir = h.tmpdir() end)
  after_each(function() h.rmtree(dir) end)

  it("is valid UTF-8 JSON when the service's error message is not UTF-8", function()
    local msg = "Queue Sales\255\254 \192\175 \237\160\128 is invalid"    -- stray, overlong, surrogate
    local srv = server.listen { handler = "tests.servers.answers", args = { routes = {
      ["/api/v2/routing/skills"] = EMPTY,
      ["GET " .. QUEUE] = { body = json.encode { id = Q, name = "Sales" } },
      [QUEUE .. "/members"] = EMPTY,
      ["/api/v2/architect/dependencytracking/consumingresources"] = EMPTY,
      ["PUT " .. QUEUE] = { status = 400, hex = hex('{"message": "' .. msg .. '", "code": "bad.request", "status": 400}') },
    } } }
    h.write(dir .. "/q.json", json.encode { queue_id = Q, name = "Sales renamed", members = {} })
    local r = h.run({ "queue-sync", "--base-url", srv:url(), "--report", dir .. "/report.json", "--no-flows",
      dir .. "/q.json" }, { env = { GENESYSCLOUD_ACCESS_TOKEN = "test-token", GENESYSCLOUD_OAUTHCLIENT_ID = false,
      GENESYSCLOUD_OAUTHCLIENT_SECRET = false, GENESYSCLOUD_REGION = false, GENESYS_BASE_URL = false }, cwd = dir })
    srv:stop()
    assert.equal(1, r.status, r.stderr)
    local text = h.read(dir .. "/report.json")
    assert.truthy(utf8.len(text), "the report is not valid UTF-8")
    local doc = assert(json.decode(text))
    local err = doc.changes[1].error
    assert.truthy(err:find("Queue Sales\u{FFFD}\u{FFFD} \u{FFFD}\u{FFFD} \u{FFFD}\u{FFFD}\u{FFFD} is invalid", 1, true), err)
  end)

  it("keeps valid UTF-8 as it is", function()
    local s = "Café – 東京 😀"
    assert.equal(s, json.valid_utf8(s))
    assert.equal('{"Caf\u{FFFD}":"x\u{FFFD}"}', json.encode { ["Caf\233"] = "x\128" })
  end)
end)

describe("the Markdown report", function()
  local sb, dir
  before_each(function()
    sb = h.sandbox()
    dir = h.tmpdir()
  end)
  after_each(function()
    sb.stop()
    h.rmtree(dir)
  end)

  it("shows HTML in names and file names as text", function()
    local org = sb.org()
    local name = '<img src=x onerror="alert(1)"> & <b>Sales</b> &lt;i&gt;'
    local file = dir .. "/<i>q`1`.json"
    h.write(file, json.encode { queue_id = org.queues[1].id, name = name })
    local r = sb.run { "queue-sync", "--report", dir .. "/r.md", file }
    assert.equal(0, r.status, r.stderr)
    local md = h.read(dir .. "/r.md")
    assert.is_nil(md:find("<img", 1, true))
    assert.is_nil(md:find("<b>", 1, true))
    assert.truthy(md:find('&lt;img src=x onerror="alert(1)"&gt; & &lt;b&gt;Sales&lt;/b&gt; &amp;lt;i&amp;gt;', 1, true))
    -- in a code span, where HTML is text; no backtick in the name can close it
    assert.truthy(md:find("`" .. file:gsub("`", "'") .. "`", 1, true))
  end)
end)
