-- gcrun.server: handler modules in their own Lua state and thread, errors
-- contained, limits enforced, clean stops.
local http = require "gcrun.http"
local server = require "gcrun.server"

describe("gcrun.server", function()
  it("serves a handler module that is a plain function", function()
    local srv = server.listen { handler = "tests.servers.plain" }
    local r = http.client({ base_url = srv:url() }):request { method = "POST", path = "/x", body = "12345" }
    srv:stop()
    assert.equal(200, r.status)
    assert.equal("plain /x 5", r.body)
    assert.equal("POST", r.headers["x-method"])
  end)

  it("answers 500 with an error body when the handler raises, and goes on", function()
    local srv = server.listen { handler = "tests.servers.plain" }
    local c = http.client { base_url = srv:url(), max_attempts = 1 }
    local r = c:request { path = "/boom" }
    assert.equal(500, r.status)
    assert.equal("internal.server.error", r:json().code)
    assert.equal(200, c:request({ path = "/after" }).status)
    srv:stop()
  end)

  it("reports a handler module that does not load, naming it", function()
    local ok, err = pcall(server.listen, { handler = "tests.servers.broken" })
    assert.is_false(ok)
    assert.equal("server", err.code)
    assert.matches("broken on purpose", err.message)
    ok, err = pcall(server.listen, { handler = "tests.servers.none" })
    assert.is_false(ok)
    assert.matches("module 'tests.servers.none' not found", err.message)
  end)

  it("refuses a request body over 16 MiB with 413", function()
    local srv = server.listen { handler = "tests.servers.plain" }
    local r = http.client({ base_url = srv:url() }):request { method = "PUT", path = "/big", body = string.rep("x", 17 * 1024 * 1024) }
    srv:stop()
    assert.equal(413, r.status)
  end)

  it("says so when the port is taken", function()
    local a = server.listen { handler = "tests.servers.plain" }
    local ok, err = pcall(server.listen, { handler = "tests.servers.plain", port = a:port() })
    a:stop()
    assert.is_false(ok)
    assert.matches("cannot listen on 127%.0%.0%.1:%d+", err.message)
  end)

  it("frees its port on stop, and stopping twice is harmless", function()
    local srv = server.listen { handler = "tests.servers.plain" }
    local url = srv:url()
    srv:stop()
    srv:stop()
    local resp, err = http.client({ base_url = url, max_attempts = 1 }).safe:request { path = "/" }
    assert.is_nil(resp)
    assert.equal("unreachable", err.code)
  end)

  it("passes args to a handler object's constructor", function()
    local srv = server.listen { handler = "tests.servers.behave", args = { client_id = "x", client_secret = "y" } }
    local c = http.client { base_url = srv:url() }
    local r = c:request { method = "POST", path = "/oauth/token", json = { client_id = "x", client_secret = "y" } }
    srv:stop()
    assert.equal(200, r.status)
  end)
end)
