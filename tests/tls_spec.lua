-- TLS is always verified: a server whose certificate no trusted CA signed
-- is refused with a clear message, unless --cacert names the certificate.
local h = require "tests.helpers"
local http = require "gcrun.http"

local CERT = h.srcdir .. "/tests/fixtures/tls/cert.pem"
local KEY = h.srcdir .. "/tests/fixtures/tls/key.pem"

describe("TLS", function()
  local sb
  setup(function() sb = h.sandbox { tls_cert = CERT, tls_key = KEY } end)
  teardown(function() sb.stop() end)

  it("serves the sandbox over https when given a certificate, and only https", function()
    assert.matches("^https://127%.0%.0%.1:%d+$", sb.url)
    -- the port really speaks TLS: a client trusting the certificate gets
    -- an answer over https, and plain http to the same port gets none
    local trusting = http.client { base_url = sb.url, cacert = CERT, max_attempts = 1 }
    local resp = trusting:request { path = "/sandbox/stats" }
    assert.equal(200, resp.status)
    assert.equal("table", type(resp:json()))
    local plain = http.client { base_url = (sb.url:gsub("^https:", "http:")), max_attempts = 1 }
    local presp, err = plain.safe:request { path = "/sandbox/stats" }
    assert.is_nil(presp)
    assert.equal("transport", err.code)
  end)

  it("refuses a self-signed certificate, saying how to trust it", function()
    local resp, err = http.client({ base_url = sb.url, max_attempts = 1 }).safe:request { path = "/sandbox/stats" }
    assert.is_nil(resp)
    assert.equal("tls", err.code)
    assert.matches("SSL certificate problem: self%-signed certificate %(TLS is always verified; %-%-cacert FILE", err.message)
  end)

  it("fails queue-sync with exit 3 at the login host, and works with --cacert", function()
    local dir = h.tmpdir()
    local r = sb.run { "queue-sync", "--report", dir .. "/r.json", h.srcdir .. "/examples/queues/claims.json" }
    assert.equal(3, r.status)
    assert.matches("cannot reach the login host https://127%.0%.0%.1:%d+/oauth/token: SSL certificate problem", r.stderr)
    r = sb.run { "queue-sync", "--cacert", CERT, "--report", dir .. "/r.json", h.srcdir .. "/examples/queues/claims.json" }
    assert.equal(0, r.status, r.stderr)
    h.rmtree(dir)
  end)
end)
