-- The sandbox's hardening (issue 12 items 14-16): numbers it could not
-- save are refused, a failed save is never acknowledged, one sandbox per
-- state file, and bodies bounded before and after authentication.
local h = require "tests.helpers"
local http = require "gcrun.http"
local json = require "gcrun.json"
local launch = require "gcrun.sandbox.launch"

local ORG = json.decode(h.read(h.srcdir .. "/examples/sandbox-org.json"))
local BILLING, FLOW = ORG.queues[1], ORG.flows[1]

local function client(sb)
  local oauth = require "gcrun.oauth"
  local _, creds = oauth.resolve { base_url = sb.url, client_id = sb.client_id, client_secret = sb.client_secret,
    env_file = false }
  return http.client { base_url = sb.url, auth = creds, max_attempts = 1 }
end

local function start(state)
  local sb = launch.start { org = h.srcdir .. "/examples/sandbox-org.json", state = state, rate = 100000 }
  sb.client = client(sb)
  return sb
end

describe("sandbox numbers and saves", function()
  it("answers 400 to a flow version holding a number out of range, and keeps saving", function()
    local dir = h.tmpdir()
    local sb = start(dir .. "/state.json")
    local c = sb.client
    assert.equal(200, c:request({ method = "POST", path = "/api/v2/flows/actions/checkout",
      query = { flow = FLOW.id } }).status)
    local cfg = c:request({ path = "/api/v2/flows/" .. FLOW.id .. "/latestconfiguration" }):json()
    local body = json.encode(cfg):gsub('"timeoutSeconds":300', '"timeoutSeconds":1e400', 1)
    local r = c:request { method = "POST", path = "/api/v2/flows/" .. FLOW.id .. "/versions", body = body,
      headers = { ["Content-Type"] = "application/json" } }
    assert.equal(400, r.status)
    assert.equal("bad.request", r:json().code)
    assert.matches("nodes%[%d%]%.config%.timeoutSeconds", r:json().message)
    -- later writes are saved, and the stop says so truthfully
    local q = c:request({ path = "/api/v2/routing/queues/" .. BILLING.id }):json()
    q.description = "after the refused number"
    assert.equal(200, c:request({ method = "PUT", path = "/api/v2/routing/queues/" .. BILLING.id, json = q }).status)
    assert.matches("after the refused number", h.read(dir .. "/state.json"))
    assert.is_true(sb.server:stop())
    h.rmtree(dir)
  end)

  it("answers 500 to a write it could not save, and its stop reports the failure", function()
    local dir = h.tmpdir()
    local state = dir .. "/state.json"
    local sb = start(state)
    local c = sb.client
    -- a directory where the state file was: every save now fails
    os.remove(state)
    assert(require("gcrun.sys").mkdir_p(state))
    local q = c:request({ path = "/api/v2/routing/queues/" .. BILLING.id }):json()
    q.description = "never saved"
    local r = c:request { method = "PUT", path = "/api/v2/routing/queues/" .. BILLING.id, json = q }
    assert.equal(500, r.status)
    assert.equal("internal.server.error", r:json().code)
    local ok, err = sb.server:stop()
    assert.is_nil(ok)
    assert.matches("cannot save the sandbox state", err)
    h.rmtree(dir)
  end)
end)

describe("sandbox state lock", function()
  it("serves one state file from one sandbox at a time, naming the holder to the next", function()
    local dir = h.tmpdir()
    local state = dir .. "/state.json"
    local a = start(state)
    local ok, err = pcall(launch.start, { org = h.srcdir .. "/examples/sandbox-org.json", state = state })
    assert.is_false(ok)
    assert.equal("input", err.code)
    assert.matches("sandbox state .*state%.json is in use by another sandbox %(process %d+%)", err.message)
    -- the CLI says the same and exits 2, writing nothing
    local r = h.run { "sandbox", "--port", "0", "--state", state }
    assert.equal(2, r.status)
    assert.matches("in use by another sandbox", r.stderr)
    -- nor may --reset replace it under the sandbox serving it
    r = h.run { "sandbox", "--reset", "--state", state }
    assert.equal(2, r.status)
    assert.matches("in use by another sandbox", r.stderr)
    a.server:stop()
    local b = start(state)
    b.server:stop()
    assert.equal(0, h.run({ "sandbox", "--reset", "--state", state }).status)
    h.rmtree(dir)
  end)

  it("refuses a second --sandbox run on a state file in use, and the first run's writes stay", function()
    local dir = h.tmpdir()
    local state = dir .. "/state.json"
    local a = start(state)
    local q = a.client:request({ path = "/api/v2/routing/queues/" .. BILLING.id }):json()
    q.description = "first run"
    assert.equal(200, a.client:request({ method = "PUT", path = "/api/v2/routing/queues/" .. BILLING.id,
      json = q }).status)
    local r = h.run { "-e", "local gc = require 'gcrun'; gc.put('/api/v2/routing/queues/x', {}); print('wrote')",
      "--sandbox", "--sandbox-state", state }
    assert.equal(2, r.status)
    assert.matches("in use by another sandbox", r.stderr)
    assert.not_matches("wrote", r.stdout)
    a.server:stop()
    assert.equal("first run", json.decode(h.read(state)).queues[1].description)
    h.rmtree(dir)
  end)
end)

describe("request bodies before and after authentication", function()
  it("reads no large body from a request without a token the sandbox issued", function()
    local sb = launch.start { org = h.srcdir .. "/examples/sandbox-org.json", state = false }
    local raw = http.client { base_url = sb.url, max_attempts = 1 }
    local big = string.rep("x", 2 * 1024 * 1024)
    local results = http.parallel({ 1, 2, 3, 4, 5, 6, 7, 8 }, function(i)
      return raw:request { method = "PUT", path = "/api/v2/routing/queues/" .. BILLING.id, body = big,
        headers = { Authorization = i % 2 == 0 and "Bearer forged" or nil, ["Content-Type"] = "application/json" } }
    end, { concurrency = 8 })
    for _, r in ipairs(results) do assert.equal(413, r.status) end
    local stats = sb.server:stats()
    assert.is_true(stats.buffered_peak <= 8 * 128 * 1024, "peak " .. stats.buffered_peak)
    assert.equal(0, stats.buffered)
    -- with a token it issued, the same body reaches the API (and is judged there)
    local c = client(sb)
    local r = c:request { method = "PUT", path = "/api/v2/routing/queues/" .. BILLING.id, body = big,
      headers = { ["Content-Type"] = "application/json" } }
    assert.equal(400, r.status)
    assert.equal("bad.request", r:json().code)
    sb.server:stop()
  end)

  it("bounds the bodies held at once, answering 503 beyond", function()
    -- with 300 ms of latency every body is held while its answer waits,
    -- so six 400 KiB bodies at once meet the 1 MiB total
    local sb = launch.start { org = h.srcdir .. "/examples/sandbox-org.json", state = false, latency = 300,
      max_buffered = 1024 * 1024 }
    local c = client(sb)
    local body = "[" .. string.rep(" ", 400 * 1024) .. "]"
    local statuses = {}
    local results = http.parallel({ 1, 2, 3, 4, 5, 6 }, function()
      return c:request { method = "PUT", path = "/api/v2/routing/queues/" .. BILLING.id, body = body,
        headers = { ["Content-Type"] = "application/json" } }
    end, { concurrency = 6 })
    for _, r in ipairs(results) do statuses[r.status] = (statuses[r.status] or 0) + 1 end
    local stats = sb.server:stats()
    sb.server:stop()
    assert.is_true(stats.buffered_peak <= 1024 * 1024, "peak " .. stats.buffered_peak)
    assert.is_true((statuses[400] or 0) >= 1)                  -- read, and judged by the API
    assert.is_true((statuses[503] or 0) >= 1)                  -- over the total: not read
    assert.equal(6, (statuses[400] or 0) + (statuses[503] or 0))
  end)

  it("lets issued tokens expire out of the table", function()
    local sb = launch.start { org = h.srcdir .. "/examples/sandbox-org.json", state = false, token_ttl = 1 }
    local raw = http.client { base_url = sb.url, max_attempts = 1 }
    local function login()
      return raw:request { method = "POST", path = "/oauth/token", body = "grant_type=client_credentials",
        headers = { Authorization = "Basic Z2NydW4tZXhhbXBsZS1jbGllbnQ6Z2NydW4tZXhhbXBsZS1zZWNyZXQ=",
          ["Content-Type"] = "application/x-www-form-urlencoded" } }
    end
    for _ = 1, 5 do assert.equal(200, login().status) end
    assert.equal(5, raw:request({ path = "/sandbox/stats" }):json().live_tokens)
    assert.equal(5, sb.server:stats().tokens)
    http.sleep(1.2)
    assert.equal(200, login().status)
    assert.equal(1, raw:request({ path = "/sandbox/stats" }):json().live_tokens)
    assert.equal(1, sb.server:stats().tokens)
    sb.server:stop()
  end)
end)
