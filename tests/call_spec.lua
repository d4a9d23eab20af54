-- gcrun.api.call counts every request, retry and 429 for the queue or flow
-- it was made for, also when the request ends in a transport error: the
-- report's figures come from these counters.
local call = require "gcrun.api.call"
local http = require "gcrun.http"
local server = require "gcrun.server"

describe("gcrun.api.call counters", function()
  local srv, api

  setup(function() srv = server.listen { handler = "tests.servers.behave" } end)
  teardown(function() srv:stop() end)
  before_each(function()
    api = { c = http.client { base_url = srv:url(), backoff_base = 0.01, backoff_cap = 0.02 },
      counters = call.counters() }
  end)

  it("counts the attempts and 429s of a request that ends in a dropped connection", function()
    local ok, err = pcall(call.send, api, { method = "POST", path = "/throttled-drop", query = { key = "send" } },
      "save flow")
    assert.is_false(ok)
    assert.matches("^save flow: ", err.message)
    assert.same({ requests = 2, retries = 1, throttled = 1, writes = 0 }, api.counters)
  end)

  it("counts the retries of a request that succeeds, and the write", function()
    local resp = call.run(api, { method = "PUT", path = "/flaky", query = { key = "run", fail = 2 } }, "put")
    assert.equal(200, resp.status)
    assert.same({ requests = 3, retries = 2, throttled = 0, writes = 1 }, api.counters)
  end)

  it("returns an error answer from send and raises it from run, counted once each", function()
    assert.equal(404, call.send(api, { path = "/status/404" }).status)
    assert.has_error(function() call.run(api, { path = "/status/404" }, "get") end)
    assert.same({ requests = 2, retries = 0, throttled = 0, writes = 0 }, api.counters)
  end)
end)
