-- The transport's bounds and honesty (issue 12 items 7-11, issue 15 item
-- 1): no proxy for plain http, secrets masked in what answers echo,
-- memory and time bounded for every answer and wait, unreachable hosts
-- said as they happen and given up on soon, with their own exit status.
local h = require "tests.helpers"
local http = require "gcrun.http"
local oauth = require "gcrun.oauth"
local server = require "gcrun.server"
local sys = require "gcrun.sys"

local function elapsed(fn)
  local t0 = sys.clock()
  local a, b = fn()
  return sys.clock() - t0, a, b
end

-- a gcrun -e one-liner in a child, killed after `limit` seconds (a wait
-- the fix bounds would otherwise hold the suite for an hour)
local function run_script(code, env, limit)
  local t0 = sys.clock()
  local r = h.run({ "-e", code }, { env = env, prefix = { "timeout", tostring(limit or 20) } })
  r.seconds = sys.clock() - t0
  return r
end

local function plain(s) return (s:gsub("%p", "%%%0")) end

describe("transport", function()
  local srv, url

  setup(function()
    srv = server.listen { handler = "tests.servers.behave", args = { client_id = "cid", client_secret = "csecret" } }
    url = srv:url()
  end)
  teardown(function() srv:stop() end)

  local function authed(extra)
    local _, creds = oauth.resolve { base_url = url, client_id = "cid", client_secret = "csecret", env_file = false }
    local opts = { base_url = url, auth = creds, backoff_base = 0.02, backoff_cap = 0.1 }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return http.client(opts)
  end

  describe("proxies", function()
    it("never sends plain http to loopback through a proxy from the environment", function()
      local proxy = server.listen { handler = "tests.servers.behave" }
      local r = run_script(string.format([[
        local oauth, http = require "gcrun.oauth", require "gcrun.http"
        local _, creds = oauth.resolve { base_url = %q, client_id = "cid", client_secret = "csecret", env_file = false }
        local c = http.client { base_url = %q, auth = creds, max_attempts = 1 }
        print(c:request({ path = "/protected" }).status)]], url, url),
        { http_proxy = proxy:url(), HTTP_PROXY = proxy:url(), ALL_PROXY = proxy:url(), all_proxy = proxy:url(),
          no_proxy = false, NO_PROXY = false })
      local seen = proxy:stats().requests
      proxy:stop()
      assert.equal(0, seen, "the proxy saw the request (and the Basic secret)")
      assert.equal(0, r.status, r.stderr)
      assert.equal("200\n", r.stdout)
    end)
  end)

  describe("secrets echoed by the other side", function()
    it("masks the token in a non-JSON error page quoted by the error", function()
      local c = authed()
      local resp = c:request { path = "/echo-auth" }
      assert.equal(500, resp.status)
      assert.is_nil(resp.body:find("tok-", 1, true))
      local ok, err = pcall(resp.json, resp)
      assert.is_false(ok)
      assert.matches("not JSON", err.message)
      assert.matches("denied: Bearer %*%*%*", err.message)
      assert.is_nil(err.message:find("tok-", 1, true), err.message)
    end)

    it("masks base64(id:secret) when a login host quotes the Basic header", function()
      local echo = server.listen { handler = "tests.servers.behave", args = { echo_auth = true } }
      local _, creds = oauth.resolve { base_url = echo:url(), client_id = "cid", client_secret = "csecret", env_file = false }
      local c = http.client { base_url = echo:url(), auth = creds }
      local resp, err = c.safe:request { path = "/protected" }
      echo:stop()
      assert.is_nil(resp)
      assert.equal("auth", err.code)
      assert.matches("rejected header: Basic", err.message)
      assert.is_nil(err.message:find("Y2lkOmNzZWNyZXQ=", 1, true), err.message)
      assert.is_nil(err.message:find("csecret", 1, true), err.message)
      assert.is_nil(creds:state().failure:find("Y2lkOmNzZWNyZXQ", 1, true))
    end)
  end)

  describe("memory", function()
    it("refuses to decode an answer whose structure would cost more than the per-answer budget", function()
      local saved = http.ANSWER_BUDGET
      http.ANSWER_BUDGET = 8 * 1024 * 1024
      local c = authed()
      -- 900 KB of [] would be ~300,000 tables (and the empty-array marking)
      local resp = c:request { path = "/emptyarrays", query = { n = 300000 } }
      local ok, err = pcall(resp.json, resp)
      -- a document of the same size made of strings costs little and decodes
      local big = c:request({ path = "/big", query = { kb = 900 } })
      local ok2, doc = pcall(big.json, big)
      http.ANSWER_BUDGET = saved
      assert.is_false(ok)
      assert.equal("bad_response", err.code)
      assert.matches("would take about %d+ MiB decoded, more than the 8 MiB", err.message)
      assert.is_true(ok2, tostring(doc))
      assert.equal(901, #doc)
    end)

    it("refuses to decode an answer that would take Lua memory past its budget", function()
      local saved = http.HEAP_BUDGET
      collectgarbage()
      http.HEAP_BUDGET = collectgarbage("count") * 1024 + 4 * 1024 * 1024
      local c = authed()
      local resp = c:request { path = "/big", query = { kb = 6000 } }
      local ok, err = pcall(resp.json, resp)
      http.HEAP_BUDGET = saved
      assert.is_false(ok)
      assert.equal("bad_response", err.code)
      assert.matches("would take the answers held at once past", err.message)
    end)

    it("keeps the answers buffered at once within a budget however many are in flight", function()
      local saved = http.body_budget().budget
      http.body_budget(1024 * 1024)
      local c = authed({ concurrency = 8 })
      local sizes = http.parallel({ 1, 2, 3, 4, 5, 6, 7, 8 }, function(i)
        return #c:request({ path = "/big", query = { kb = 512, key = "big" .. i } }).body
      end, { concurrency = 8 })
      local stats = http.body_budget(saved)
      for i = 1, 8 do assert.equal(1 + 512 * 1023 + 3, sizes[i], "answer " .. i) end
      -- the budget, plus the one answer allowed to finish past it (in a
      -- buffer grown by doubling)
      assert.is_true(stats.peak <= 1024 * 1024 + 1024 * 1024, "peak " .. stats.peak)
      assert.equal(0, stats.held)
    end)
  end)

  describe("waits", function()
    it("caps the hold an inin-ratelimit-reset asks for, and says it", function()
      -- the window lasts an hour: the first request uses its budget, the
      -- second meets a 429 asking for an hour (given up on at once), the
      -- third is held by pacing, for the capped time only
      local r = run_script(string.format([[
        local http = require "gcrun.http"
        local c = http.client { base_url = %q, max_wait = 3.5, max_attempts = 2 }
        local q = { allowed = 1, window = 3600 }
        local s = {}
        for i = 1, 3 do s[i] = c:request({ path = "/ratelimit", query = q }).status end
        print(table.concat(s, " "))]], url), nil, 20)
      assert.equal(0, r.status, "status " .. tostring(r.status) .. " " .. r.stderr)
      assert.equal("200 429 429\n", r.stdout)
      assert.matches("rate budget used up %(1 requests a window%); holding requests for 4 s", r.stderr)
      assert.is_true(r.seconds >= 3 and r.seconds < 10, "took " .. r.seconds)
    end)

    it("says a wait of a few seconds at normal verbosity as it begins", function()
      local r = run_script(string.format([[
        local c = require("gcrun.http").client { base_url = %q }
        print(c:request({ path = "/flaky", query = { fail = 1, code = 429, retry_after = 3, key = "said" } }).status)]],
        url), nil, 20)
      assert.equal(0, r.status, r.stderr)
      assert.equal("200\n", r.stdout)
      assert.matches("retry: GET [^\n]*/flaky[^\n]*: HTTP 429; attempt 2 of 5 in 3%.00 s", r.stderr)
    end)

    it("reuses a token for a floor of time whatever its expires_in", function()
      local tiny = server.listen { handler = "tests.servers.behave", args = { ttl = 1e-9 } }
      local r = run_script(string.format([[
        local oauth, http, sys = require "gcrun.oauth", require "gcrun.http", require "gcrun.sys"
        local _, creds = oauth.resolve { base_url = %q, client_id = "cid", client_secret = "csecret", env_file = false }
        local c = http.client { base_url = %q, auth = creds }
        local n, t0, last = 0, sys.clock(), nil
        while sys.clock() - t0 < 1.5 do last = c:request({ path = "/protected" }):json(); n = n + 1 end
        print(n, last.issued)]], tiny:url(), tiny:url()), nil, 10)
      tiny:stop()
      assert.equal(0, r.status, "status " .. tostring(r.status) .. " " .. r.stderr)
      local n, issued = r.stdout:match("^(%d+)\t(%d+)")
      assert.is_true(tonumber(n) >= 3, r.stdout)
      assert.is_true(tonumber(issued) <= 3, "tokens asked for in 1.5 s: " .. issued)
    end)

    it("gives a whole request, all its attempts included, a deadline", function()
      local t, resp, err = elapsed(function()
        return authed({ timeout = 0.5, deadline = 1.2, max_attempts = 10 }).safe:request {
          path = "/slow", query = { ms = 3000, key = "deadline" } }
      end)
      assert.is_nil(resp)
      assert.equal("transport", err.code)
      assert.matches("the most one request may take", err.message)
      assert.is_true(t < 2, "took " .. t)
    end)
  end)

  describe("headers", function()
    -- (20,000 lines cost seconds each in libcurl's header API; the test
    -- server can send a few hundred, enough to cross the bound)
    it("refuses an answer with more header lines than any real one has, at once", function()
      local c = authed({ max_attempts = 1 })
      local t, resp, err = elapsed(function() return c.safe:request { path = "/manyheaders", query = { n = 400 } } end)
      assert.is_nil(resp)
      assert.equal("transport", err.code)
      assert.matches("more than 256 header lines", err.message)
      assert.is_true(t < 2, "took " .. t)
      assert.equal(200, c:request({ path = "/manyheaders", query = { n = 50 } }).status)
    end)
  end)
end)

describe("an unreachable service", function()
  local dead_url
  setup(function()
    local dead = server.listen { handler = "tests.servers.behave" }
    dead_url = dead:url()
    dead:stop()
  end)

  it("is said as each wait begins, given up on soon, and exits 4 without a traceback", function()
    local dir = h.tmpdir()
    local t0 = sys.clock()
    local r = h.run({ "queue-sync", "-v", "--base-url", dead_url, "--report", dir .. "/r.json",
      h.srcdir .. "/examples/queues" }, { env = {
        GENESYSCLOUD_OAUTHCLIENT_ID = "cid", GENESYSCLOUD_OAUTHCLIENT_SECRET = "csecret",
        GENESYSCLOUD_REGION = false, GENESYS_BASE_URL = false, GENESYSCLOUD_ACCESS_TOKEN = false } })
    local took = sys.clock() - t0
    h.rmtree(dir)
    assert.equal(4, r.status, r.stderr)
    assert.matches("login host unreachable %(connection refused%); retrying in [%d.]+ s, attempt 2 of 6", r.stderr)
    assert.matches("attempt 6 of 6", r.stderr)
    assert.matches("cannot reach the login host " .. plain(dead_url) .. "/oauth/token: connection refused %(6 attempts",
      r.stderr)
    assert.is_nil(r.stderr:find("traceback", 1, true), r.stderr)
    assert.is_nil(r.stderr:find("after 0 attempts", 1, true), r.stderr)
    assert.is_nil(r.stderr:find("csecret", 1, true))
    assert.is_true(took < 30, "took " .. took)
  end)

  it("hands a retry line over as its wait begins, not when the request ends", function()
    local core = require "gcrun.http.core"
    local c = core.client { base_url = dead_url, backoff_base = 2, backoff_cap = 2 }
    local t = c:start { path = "/x" }
    local took, done, events = elapsed(function() return core.wait(5) end)
    t:cancel()
    assert.same({}, done)
    assert.is_true(took < 1, "took " .. took)
    assert.matches("^service unreachable %(connection refused%); retrying in [%d.]+ s, attempt 2 of 5$", events[1].line)
    assert.equal(1, events[1].level)
  end)

  it("fails a request to an unreachable API host as unreachable, after fewer attempts", function()
    local c = http.client { base_url = dead_url, max_attempts = 20, backoff_base = 0.01, backoff_cap = 0.02 }
    local resp, err = c.safe:request { path = "/x" }
    assert.is_nil(resp)
    assert.equal("unreachable", err.code)
    assert.equal(6, err.attempts)
    assert.matches("cannot reach the service", err.message)
    assert.equal(4, require("gcrun.errors").exit_status(err))
  end)
end)
