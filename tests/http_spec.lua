-- gcrun.http against a local gcrun.server: connection reuse, retries and
-- their caps, pacing, concurrency, URL encoding, redaction.
local h = require "tests.helpers"
local http = require "gcrun.http"
local server = require "gcrun.server"
local sys = require "gcrun.sys"

local function elapsed(fn)
  local t0 = sys.clock()
  local a, b = fn()
  return sys.clock() - t0, a, b
end

describe("gcrun.http", function()
  local srv, url

  setup(function()
    srv = server.listen { handler = "tests.servers.behave" }
    url = srv:url()
  end)

  teardown(function() srv:stop() end)

  local function client(opts)
    opts = opts or {}
    opts.base_url = opts.base_url or url
    opts.backoff_base = opts.backoff_base or 0.02
    opts.backoff_cap = opts.backoff_cap or 0.1
    return http.client(opts)
  end

  local function hits(key)
    return client():request({ path = "/hits", query = { of = key } }):json().hits
  end

  it("reuses one connection for many sequential requests", function()
    local own = server.listen { handler = "tests.servers.behave" }
    local c = http.client { base_url = own:url() }
    for _ = 1, 25 do assert.equal(200, c:request({ path = "/echo" }).status) end
    local stats = own:stats()
    own:stop()
    assert.equal(25, stats.requests)
    assert.equal(1, stats.connections)
  end)

  it("encodes path parameters and query values, lists as repeated keys", function()
    local r = client():request {
      path = "/{what}", params = { what = "echo" },
      query = { name = "a b/c&d", id = { "x", "y z" }, flag = true },
    }
    local echo = r:json()
    assert.same({ name = "a b/c&d", id = { "x", "y z" }, flag = "true" }, echo.query)
    assert.matches("%?flag=true&id=x&id=y%%20z&name=a%%20b%%2Fc%%26d$", r.url)
  end)

  it("sends JSON bodies and decodes JSON answers", function()
    local r = client():request { method = "PUT", path = "/echo", json = { a = 1, list = { 1, 2 } } }
    local echo = r:json()
    assert.equal("PUT", echo.method)
    assert.equal("application/json", echo.headers["content-type"])
    assert.same({ a = 1, list = { 1, 2 } }, require("gcrun.json").decode(echo.body))
  end)

  it("waits as long as a Retry-After in seconds says after a 429", function()
    local t, r = elapsed(function()
      return client():request { path = "/flaky", query = { fail = 1, code = 429, retry_after = 1, key = "ra-s" } }
    end)
    assert.equal(200, r.status)
    assert.equal(2, r.attempts)
    assert.equal(1, r.throttled)
    assert.is_true(t >= 0.95 and t < 2, "took " .. t)
  end)

  it("waits until a Retry-After given as an HTTP date", function()
    local date = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 2)
    local t, r = elapsed(function()
      return client():request { path = "/flaky", query = { fail = 1, code = 429, retry_after = date, key = "ra-d" } }
    end)
    assert.equal(200, r.status)
    assert.is_true(t >= 0.9 and t < 3.1, "took " .. t)
  end)

  it("parses Retry-After strictly: seconds, dates, and nothing else", function()
    local now = 1700000000
    assert.equal(120, http.retry_after("120", now))
    assert.equal(0, http.retry_after(os.date("!%a, %d %b %Y %H:%M:%S GMT", now - 60), now))
    assert.equal(30, http.retry_after(os.date("!%a, %d %b %Y %H:%M:%S GMT", now + 30), now))
    assert.is_nil(http.retry_after("-5", now))
    assert.is_nil(http.retry_after("1.5", now))
    assert.is_nil(http.retry_after("soon", now))
    assert.is_nil(http.retry_after("", now))
    assert.equal(1e9, http.retry_after(string.rep("9", 40), now))
  end)

  it("backs off with jitter when a 503 has no Retry-After, then succeeds", function()
    local t, r = elapsed(function()
      return client():request { path = "/flaky", query = { fail = 2, code = 503, key = "bo" } }
    end)
    assert.equal(200, r.status)
    assert.equal(3, r.attempts)
    assert.is_true(r.retried_for <= 0.02 + 0.04 + 1e-9)
    assert.is_true(t < 1)
  end)

  it("stops after max_attempts and returns the last answer", function()
    local r = client({ max_attempts = 3 }):request { path = "/flaky", query = { fail = 10, code = 503, key = "cap" } }
    assert.equal(503, r.status)
    assert.equal(3, r.attempts)
    assert.matches("gave up after 3 attempts", r.gave_up)
  end)

  it("does not sit out an absurd Retry-After: it gives up at once", function()
    local t, r = elapsed(function()
      return client():request { path = "/status/429", query = { retry_after = "1000000000" } }
    end)
    assert.equal(429, r.status)
    assert.equal(1, r.attempts)
    assert.matches("asked to wait 1000000000 s", r.gave_up)
    assert.is_true(t < 1)
  end)

  it("caps the total time spent waiting between attempts", function()
    local t, r = elapsed(function()
      return client({ max_retry_time = 1.5 }):request {
        path = "/flaky", query = { fail = 10, code = 429, retry_after = 1, key = "budget" } }
    end)
    assert.equal(429, r.status)
    assert.equal(2, r.attempts)
    assert.matches("gave up after 1.0 s of retries", r.gave_up)
    assert.is_true(t < 2.5)
  end)

  it("ignores a negative Retry-After and backs off instead", function()
    local r = client():request { path = "/flaky", query = { fail = 1, code = 429, retry_after = "-30", key = "neg" } }
    assert.equal(200, r.status)
    assert.is_true(r.retried_for < 0.1)
  end)

  it("retries a GET after dropped connections", function()
    local r = client():request { path = "/drop", query = { times = 2, key = "drop-get" } }
    assert.equal(200, r.status)
    assert.equal(3, hits("drop-get"))
    assert.equal(3, r.attempts)
  end)

  it("counts libcurl's own resend on a reused connection as an attempt", function()
    -- libcurl resends by itself when a pooled connection closes before any
    -- answer; the service saw that request, so the count must include it
    local c = client()
    assert.equal(200, c:request({ path = "/echo" }).status)     -- a connection to reuse
    local r = c:request { path = "/drop", query = { times = 1, key = "drop-reused" } }
    assert.equal(200, r.status)
    assert.equal(2, hits("drop-reused"))
    assert.equal(2, r.attempts)
    assert.equal(1, c:stats().retries)
  end)

  it("does not retry a POST whose request may have reached the server", function()
    local resp, err = client().safe:request { method = "POST", path = "/drop", query = { times = 1, key = "drop-post" } }
    assert.is_nil(resp)
    assert.equal("unknown_outcome", err.code)
    assert.equal(1, hits("drop-post"))
  end)

  it("does not retry a 503 to a POST unless the caller marks it idempotent", function()
    local r = client():request { method = "POST", path = "/flaky", query = { fail = 1, key = "p503" } }
    assert.equal(503, r.status)
    assert.equal(1, r.attempts)
    r = client():request { method = "POST", path = "/flaky", idempotent = true, query = { fail = 1, key = "p503i" } }
    assert.equal(200, r.status)
    assert.equal(2, r.attempts)
  end)

  it("retries a POST that provably never left (connection refused)", function()
    local dead = server.listen { handler = "tests.servers.behave" }
    local dead_url = dead:url()
    dead:stop()
    local resp, err = client({ base_url = dead_url, max_attempts = 3 }).safe:request { method = "POST", path = "/x" }
    assert.is_nil(resp)
    assert.equal("unreachable", err.code)
    assert.equal(3, err.attempts)
    assert.matches("gave up after 3 attempts", err.message)
  end)

  it("paces requests by the ratelimit headers instead of running into 429s", function()
    local own = server.listen { handler = "tests.servers.behave" }
    local c = http.client { base_url = own:url(), backoff_base = 0.05 }
    local statuses = {}
    local t = elapsed(function()
      for i = 1, 15 do
        statuses[i] = c:request({ path = "/ratelimit", query = { allowed = 5, window = 1 } }).status
      end
    end)
    own:stop()
    assert.same({}, (function() local bad = {} for _, s in ipairs(statuses) do
      if s ~= 200 then bad[#bad + 1] = s end end return bad end)())
    assert.equal(0, c:stats().throttled)
    assert.is_true(t >= 1.9, "15 requests at 5 a second took only " .. t)
  end)

  it("without pacing information the same burst meets 429s (control)", function()
    local own = server.listen { handler = "tests.servers.behave" }
    local c = http.client { base_url = own:url(), max_attempts = 1 }
    local throttled = 0
    http.parallel({ 1, 2, 3, 4, 5, 6, 7, 8 }, function()
      if c:request({ path = "/ratelimit", query = { allowed = 5, window = 5 } }).status == 429 then
        throttled = throttled + 1
      end
    end, { concurrency = 8 })
    own:stop()
    assert.is_true(throttled >= 1)
  end)

  it("keeps to its own rate cap", function()
    local c = client({ rate = 20 })
    local t = elapsed(function()
      for _ = 1, 10 do c:request { path = "/echo" } end
    end)
    assert.is_true(t >= 0.44, "10 requests at 20/s took " .. t)
  end)

  it("runs N slow requests in about one latency, not N", function()
    local c = client({ concurrency = 10 })
    local t, results = elapsed(function()
      return http.parallel({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, function(i)
        return c:request({ path = "/slow", query = { ms = 300, key = "slow" .. i } }).status
      end, { concurrency = 10 })
    end)
    assert.same({ 200, 200, 200, 200, 200, 200, 200, 200, 200, 200 }, results)
    assert.is_true(t < 0.6, "10 requests of 300 ms took " .. t)
  end)

  it("collects each task's error without stopping the others", function()
    local results, errs = http.parallel({ 1, 2, 3 }, function(i)
      if i == 2 then error({ code = "mine", message = "task 2 failed" }) end
      return i * 10
    end)
    assert.same({ [1] = 10, [3] = 30 }, results)
    assert.equal("task 2 failed", errs[2].message)
  end)

  it("lets tasks start their own parallel work", function()
    local c = client({ concurrency = 16 })
    local t, results = elapsed(function()
      return http.parallel({ 1, 2 }, function(i)
        local inner = http.parallel({ 1, 2, 3, 4 }, function(j)
          return c:request({ path = "/slow", query = { ms = 200, key = "n" .. i .. j } }).status
        end, { concurrency = 4 })
        return #inner
      end, { concurrency = 2 })
    end)
    assert.same({ 4, 4 }, results)
    assert.is_true(t < 0.4, "8 nested requests of 200 ms took " .. t)
  end)

  it("refuses plain http to a host that is not loopback", function()
    local ok, err = pcall(http.client, { base_url = "http://example.com" })
    assert.is_false(ok)
    assert.matches("refusing plain http", tostring(err))
    assert.truthy(http.client { base_url = "https://example.com" })
  end)

  it("refuses a request that would leave the client's base URL", function()
    local ok, err = pcall(function() client():request { path = "https://elsewhere.example/x" } end)
    assert.is_false(ok)
    assert.matches("not under", tostring(err))
  end)

  it("masks secrets in traced bodies", function()
    assert.equal('{"client_secret":"***","x":1,"access_token": "***"}',
      http.redact('{"client_secret":"s3cr\\"et","x":1,"access_token": "abc"}'))
    assert.equal("grant_type=client_credentials&client_secret=***&password=***",
      http.redact("grant_type=client_credentials&client_secret=abc&password=p"))
  end)

  describe("hostile answers", function()
    it("reports an HTML error page as not JSON, naming the request", function()
      local r = client():request { path = "/html" }
      local ok, err = pcall(r.json, r)
      assert.is_false(ok)
      assert.equal("bad_response", err.code)
      assert.matches("GET .*/html answered HTTP 500 with a body that is not JSON %(text/html", err.message)
    end)

    it("reports truncated JSON", function()
      local r = client():request { path = "/truncated" }
      local ok, err = pcall(r.json, r)
      assert.is_false(ok)
      assert.matches("not JSON", err.message)
    end)

    it("reports a 200 with an empty body", function()
      local r = client():request { path = "/empty" }
      local ok, err = pcall(r.json, r)
      assert.is_false(ok)
      assert.matches("answered HTTP 200 with an empty body", err.message)
    end)

    it("does not follow redirects, so an endless one cannot loop", function()
      local r = client():request { path = "/redirect" }
      assert.equal(302, r.status)
      assert.equal(1, r.attempts)
    end)

    it("fails cleanly on a header too large to accept", function()
      -- 200 KB of header: more than the server buffers, so it closes the
      -- connection without an answer; the client says so, once, and moves on
      local resp, err = client({ max_attempts = 1 }).safe:request { path = "/bigheader", query = { key = "big" } }
      assert.is_nil(resp)
      assert.equal("transport", err.code)
      assert.matches("^GET http://127%.0%.0%.1:%d+/bigheader%?key=big: Empty reply from server", err.message)
      -- libcurl may resend once per reused connection that died; every
      -- request the server saw is counted, none more
      local seen = client():request({ path = "/hits", query = { of = "big" } }):json().hits
      assert.equal(seen, err.attempts)
      assert.equal(200, client():request({ path = "/echo" }).status)   -- the client still works
    end)
  end)
end)

describe("gcrun.http from the command line", function()
  it("lets a one-liner call a local server", function()
    local r = h.run { "-e", [[
      local srv = require("gcrun.server").listen { handler = "tests.servers.behave" }
      local c = require("gcrun.http").client { base_url = srv:url() }
      print(c:request({ path = "/echo", query = { q = "hi" } }):json().query.q)
      srv:stop()]] }
    assert.equal(0, r.status, r.stderr)
    assert.equal("hi\n", r.stdout)
  end)
end)
