-- gcrun.oauth: where settings come from, the token cache and its refresh
-- rules, clear token errors, and secrets kept out of every output.
local h = require "tests.helpers"
local http = require "gcrun.http"
local oauth = require "gcrun.oauth"
local server = require "gcrun.server"

describe("gcrun.oauth tokens", function()
  local srv

  before_each(function()
    srv = server.listen { handler = "tests.servers.behave", args = { client_id = "cid", client_secret = "csecret" } }
  end)
  after_each(function() srv:stop() end)

  local function client(secret, extra)
    local opts = { base_url = srv:url(), client_id = "cid", client_secret = secret or "csecret", env_file = false }
    for k, v in pairs(extra or {}) do opts[k] = v end
    local _, creds = oauth.resolve(opts)
    return http.client { base_url = srv:url(), auth = creds, concurrency = 8 }, creds
  end

  it("asks for one token however many tasks start at once", function()
    local c, creds = client()
    local issued = http.parallel({ 1, 2, 3, 4, 5, 6 }, function()
      return c:request({ path = "/protected" }):json().issued
    end, { concurrency = 6 })
    assert.same({ 1, 1, 1, 1, 1, 1 }, issued)
    assert.equal(1, creds:state().refreshes)
    assert.is_true(creds:state().valid)
  end)

  it("reuses the cached token on later requests", function()
    local c, creds = client()
    for _ = 1, 5 do c:request { path = "/protected" } end
    assert.equal(1, creds:state().refreshes)
  end)

  it("refreshes the token 60 s before it expires", function()
    local own = server.listen { handler = "tests.servers.behave", args = { ttl = 61 } }
    local _, creds = oauth.resolve { base_url = own:url(), client_id = "cid", client_secret = "csecret", env_file = false }
    local c = http.client { base_url = own:url(), auth = creds }
    assert.equal(1, c:request({ path = "/protected" }):json().issued)
    assert.is_true(creds:state().expires_in <= 1)
    http.sleep(1.1)
    assert.equal(2, c:request({ path = "/protected" }):json().issued)
    assert.equal(2, creds:state().refreshes)
    own:stop()
  end)

  it("refreshes once on a 401 and retries the request", function()
    local c, creds = client()
    c:request { path = "/protected" }
    c:request { path = "/expire", auth = false }
    local r = c:request { path = "/protected" }
    assert.equal(200, r.status)
    assert.equal(2, r:json().issued)
    assert.equal(2, creds:state().refreshes)
  end)

  it("asks for tokens the way each dialect says: Basic on /oauth/token, or the tutorial's JSON body", function()
    local c = client(nil, { token = require("gcrun.api.tutorial").token })
    assert.equal(200, c:request({ path = "/protected" }).status)
    local p = client(nil, { token = require("gcrun.api.platform").token })
    assert.equal(200, p:request({ path = "/protected" }).status)
    local seen = c:request({ path = "/token-requests", auth = false }):json().requests
    assert.same({
      { path = "/api/v2/oauth/token", basic = false, content_type = "application/json", body_is_json = true },
      { path = "/oauth/token", basic = true, content_type = "application/x-www-form-urlencoded", body_is_json = false },
    }, seen)
  end)

  it("refuses the former api= option: the token's shape comes from the dialect", function()
    local ok, err = pcall(oauth.resolve, { base_url = srv:url(), client_id = "cid", client_secret = "x",
      env_file = false, api = "tutorial" })
    assert.is_false(ok)
    assert.matches("unknown option 'api'", tostring(err))
  end)

  it("fails every waiting request with a clear error on bad credentials", function()
    local c = client("wrong")
    local _, errs = http.parallel({ 1, 2, 3 }, function() return c:request { path = "/protected" } end)
    for i = 1, 3 do
      assert.equal("auth", errs[i].code)
      assert.matches("the login host refused the client credentials %(HTTP 401: invalid_client", errs[i].message)
      assert.not_matches("wrong", errs[i].message)
    end
  end)

  it("says when the login host cannot be reached", function()
    local dead = server.listen { handler = "tests.servers.behave" }
    local url = dead:url()
    dead:stop()
    local _, creds = oauth.resolve { base_url = url, client_id = "cid", client_secret = "x", env_file = false }
    local c = http.client { base_url = url, auth = creds, backoff_base = 0.01, max_attempts = 2 }
    local resp, err = c.safe:request { path = "/protected" }
    assert.is_nil(resp)
    assert.equal("unreachable", err.code)   -- exit 4, not an authentication failure (3)
    assert.matches("cannot reach the login host " .. url:gsub("%p", "%%%0") .. "/oauth/token", err.message)
  end)

  it("uses a given access token as is, without asking for one", function()
    local _, creds = oauth.resolve { base_url = srv:url(), access_token = "static-token", env_file = false }
    local c = http.client { base_url = srv:url(), auth = creds }
    local r = c:request { path = "/protected" }
    assert.equal(401, r.status)                       -- unknown to this server, and never refreshed
    assert.is_true(creds:state().static)
    assert.equal(0, creds:state().refreshes)
  end)
end)

describe("gcrun.oauth settings", function()
  local dir

  before_each(function() dir = h.tmpdir() end)
  after_each(function() h.rmtree(dir) end)

  -- resolve in a fresh gcrun process, in `dir`, with this environment
  local function resolve(env, opts)
    local base = {
      GENESYSCLOUD_OAUTHCLIENT_ID = false, GENESYSCLOUD_OAUTHCLIENT_SECRET = false, GENESYSCLOUD_REGION = false,
      GENESYSCLOUD_ACCESS_TOKEN = false, GENESYS_CLIENT_ID = false, GENESYS_CLIENT_SECRET = false,
      GENESYS_BASE_URL = false, GCRUN_PATH = h.srcdir,
    }
    for k, v in pairs(env or {}) do base[k] = v end
    return h.run({ "-e", [[
      local opts = load("return " .. (...))()
      local cfg = require("gcrun.oauth").resolve(opts)
      print(cfg.client_id, cfg.sources.client_id, cfg.sources.client_secret, cfg.base_url, cfg.login_url)
      for _, w in ipairs(cfg.warnings) do print("warning: " .. w) end]], opts or "{}" }, { env = base, cwd = dir })
  end

  it("maps a region to its API and login hosts", function()
    local r = resolve { GENESYSCLOUD_OAUTHCLIENT_ID = "id1", GENESYSCLOUD_OAUTHCLIENT_SECRET = "s", GENESYSCLOUD_REGION = "eu-west-1" }
    assert.equal(0, r.status, r.stderr)
    assert.equal("id1\tGENESYSCLOUD_OAUTHCLIENT_ID\tGENESYSCLOUD_OAUTHCLIENT_SECRET\t" ..
      "https://api.mypurecloud.ie\thttps://login.mypurecloud.ie\n", r.stdout)
  end)

  it("accepts region names with underscores and bare domains", function()
    assert.equal("mypurecloud.com.au", oauth.region_domain("ap_southeast_2"))
    assert.equal("usw2.pure.cloud", oauth.region_domain("api.usw2.pure.cloud"))
    assert.equal("mypurecloud.de", oauth.region_domain("https://login.mypurecloud.de/"))
    assert.is_nil(oauth.region_domain("mars-north-1"))
  end)

  it("rejects an unknown region as a usage error (exit status 2)", function()
    local r = h.run({ "-e", "require('gcrun.oauth').resolve{ region = 'mars-north-1', client_id = 'a', client_secret = 'b' }" },
      { cwd = dir })
    assert.equal(2, r.status)
    assert.matches("unknown region 'mars%-north%-1'", r.stderr)
  end)

  it("reads the tutorial's variable names too", function()
    local r = resolve { GENESYS_CLIENT_ID = "tid", GENESYS_CLIENT_SECRET = "ts", GENESYS_BASE_URL = "https://api.mypurecloud.jp" }
    assert.equal("tid\tGENESYS_CLIENT_ID\tGENESYS_CLIENT_SECRET\thttps://api.mypurecloud.jp\thttps://login.mypurecloud.jp\n",
      r.stdout)
  end)

  it("takes options over the environment and the environment over .env", function()
    h.write(dir .. "/.env", "GENESYSCLOUD_OAUTHCLIENT_ID=from-file\nGENESYSCLOUD_OAUTHCLIENT_SECRET=file-secret\n" ..
      "GENESYSCLOUD_REGION=eu-central-1\n")
    os.execute("chmod 600 " .. h.quote(dir .. "/.env"))
    local r = resolve {}
    assert.equal("from-file\t.env\t.env\thttps://api.mypurecloud.de\thttps://login.mypurecloud.de\n", r.stdout)
    r = resolve { GENESYSCLOUD_OAUTHCLIENT_ID = "from-env", GENESYSCLOUD_REGION = "us-west-2" }
    assert.equal("from-env\tGENESYSCLOUD_OAUTHCLIENT_ID\t.env\thttps://api.usw2.pure.cloud\t" ..
      "https://login.usw2.pure.cloud\n", r.stdout)
    r = resolve({ GENESYSCLOUD_OAUTHCLIENT_ID = "from-env" }, "{ client_id = 'from-option', region = 'ca-central-1' }")
    assert.equal("from-option\t--client-id\t.env\thttps://api.cac1.pure.cloud\thttps://login.cac1.pure.cloud\n", r.stdout)
  end)

  it("understands .env quoting, comments and export", function()
    h.write(dir .. "/.env", table.concat({
      "# a comment", "", "export GENESYSCLOUD_OAUTHCLIENT_ID='quoted id'  # trailing comment",
      'GENESYSCLOUD_OAUTHCLIENT_SECRET="s\\"x"', "GENESYSCLOUD_REGION = eu-west-2",
    }, "\n"))
    os.execute("chmod 600 " .. h.quote(dir .. "/.env"))
    local r = resolve {}
    assert.equal("quoted id\t.env\t.env\thttps://api.euw2.pure.cloud\thttps://login.euw2.pure.cloud\n", r.stdout)
    -- a line that is not KEY=VALUE is an error naming it, never skipped
    h.write(dir .. "/.env", "GENESYSCLOUD_OAUTHCLIENT_ID=a\nnot a line\nGENESYSCLOUD_REGION=eu-west-2\n")
    r = resolve {}
    assert.equal(2, r.status)
    assert.matches("%.env:2: this line is not KEY=VALUE and cannot be read %(1 such line%)", r.stderr)
  end)

  it("warns when .env is readable by everyone", function()
    h.write(dir .. "/.env", "GENESYSCLOUD_OAUTHCLIENT_ID=a\nGENESYSCLOUD_OAUTHCLIENT_SECRET=b\n")
    os.execute("chmod 644 " .. h.quote(dir .. "/.env"))
    local r = resolve {}
    assert.matches("warning: %.env is readable by every user of this machine; it holds a client secret", r.stdout)
  end)

  it("says what is missing when there are no credentials", function()
    local r = resolve {}
    assert.equal(3, r.status)
    assert.matches("no client id and secret: set GENESYSCLOUD_OAUTHCLIENT_ID", r.stderr)
    r = resolve { GENESYSCLOUD_OAUTHCLIENT_ID = "only-id" }
    assert.matches("no client secret", r.stderr)
  end)

  it("never accepts the secret as a command-line option", function()
    local r = h.run { "queue-sync", "--client-secret", "x", "a.json" }
    assert.equal(2, r.status)
    assert.matches("unknown option '%-%-client%-secret'", r.stderr)
  end)
end)

describe("secrets in output", function()
  it("never print the client secret or the token, at any verbosity, on any path", function()
    local canary_secret, canary_token = "CANARY-SECRET-7c1f", "CANARY-TOKEN-"
    local script = [[
      local server = require "gcrun.server"
      local http = require "gcrun.http"
      local log = require "gcrun.log"
      local oauth = require "gcrun.oauth"
      local srv = server.listen { handler = "tests.servers.behave",
        args = { client_id = "cid", client_secret = os.getenv("GENESYSCLOUD_OAUTHCLIENT_SECRET"),
                 token_prefix = "CANARY-TOKEN-" } }
      local cfg, creds = oauth.resolve { base_url = srv:url() }
      print(cfg, creds, require("gcrun.json").encode(cfg), require("gcrun.json").encode(creds:state()))
      local c = http.client { base_url = srv:url(), auth = creds, backoff_base = 0.01 }
      c:request { path = "/protected" }
      c:request { path = "/expire", auth = false }
      c:request { method = "POST", path = "/echo", json = { password = "pw", client_secret = "CANARY-SECRET-7c1f" } }
      c:request { path = "/protected" }
      local _, bad = oauth.resolve { base_url = srv:url(), client_id = "cid", client_secret = "CANARY-SECRET-7c1f-wrong" }
      local c2 = http.client { base_url = srv:url(), auth = bad }
      local _, err = c2.safe:request { path = "/protected" }
      log.error(tostring(err))
      srv:stop()
      error("a crash after all that")]]
    for _, v in ipairs { {}, { "-v" }, { "-v", "-v" }, { "--log-format", "json", "-v", "-v" } } do
      local args = { "-e", script }
      for _, a in ipairs(v) do args[#args + 1] = a end
      local r = h.run(args, { env = { GENESYSCLOUD_OAUTHCLIENT_ID = "cid", GENESYSCLOUD_OAUTHCLIENT_SECRET = canary_secret } })
      assert.equal(1, r.status)
      assert.matches("a crash after all that", r.stderr)
      local all = r.stdout .. r.stderr
      assert.is_nil(all:find(canary_secret, 1, true), "secret leaked with " .. table.concat(v, " "))
      assert.is_nil(all:find(canary_token, 1, true), "token leaked with " .. table.concat(v, " "))
      if #v >= 2 then assert.matches("Bearer ***", all, 1, true) end
    end
  end)
end)
