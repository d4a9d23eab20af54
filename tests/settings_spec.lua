-- Where gcrun's target and credentials come from, and what it refuses:
-- tokens that could inject headers, a .env that redirects credentials from
-- elsewhere, secrets with NUL bytes, unreadable .env lines, unknown
-- regions; named profiles; the one error class; which modules a user may
-- replace.
local h = require "tests.helpers"
local errors = require "gcrun.errors"
local http = require "gcrun.http"
local oauth = require "gcrun.oauth"
local server = require "gcrun.server"

local CLEAN = {
  GENESYSCLOUD_OAUTHCLIENT_ID = false, GENESYSCLOUD_OAUTHCLIENT_SECRET = false, GENESYSCLOUD_REGION = false,
  GENESYSCLOUD_ACCESS_TOKEN = false, GENESYS_CLIENT_ID = false, GENESYS_CLIENT_SECRET = false,
  GENESYS_BASE_URL = false, GCRUN_PATH = h.srcdir,
}

local function env(extra)
  local e = {}
  for k, v in pairs(CLEAN) do e[k] = v end
  for k, v in pairs(extra or {}) do e[k] = v end
  return e
end

-- resolve in a fresh gcrun process in `dir`; prints base URL and sources
local function resolve(dir, vars, opts)
  return h.run({ "-e", [[
    local opts = load("return " .. (...))()
    local cfg = require("gcrun.oauth").resolve(opts)
    print(cfg.base_url, cfg.sources.client_id, cfg.sources.client_secret, cfg.region or cfg.sources.base_url)]],
    opts or "{}" }, { env = env(vars), cwd = dir })
end

local function token_requests(srv)
  local c = http.client { base_url = srv:url(), max_attempts = 1 }
  return c:request({ path = "/token-requests" }):json().requests
end

describe("access tokens", function()
  local dir
  before_each(function() dir = h.tmpdir() end)
  after_each(function() h.rmtree(dir) end)

  it("refuses a given token with CR/LF (environment, .env, caller) before any request", function()
    local r = resolve(dir, { GENESYSCLOUD_ACCESS_TOKEN = "abc\r\nX-Injected: 1" }, "{ region = 'eu-west-1' }")
    assert.equal(3, r.status)
    assert.matches("the access token from the environment %(GENESYSCLOUD_ACCESS_TOKEN%) has characters no " ..
      "access token has", r.stderr)
    assert.not_matches("Injected", r.stderr)
    h.write(dir .. "/.env", 'GENESYSCLOUD_ACCESS_TOKEN="abc\\r\\nX-Injected: 1"\nGENESYSCLOUD_REGION=eu-west-1\n')
    os.execute("chmod 600 " .. h.quote(dir .. "/.env"))
    r = resolve(dir, {})
    assert.equal(3, r.status)
    assert.matches("the access token from %.env has characters", r.stderr)
    local ok, err = pcall(oauth.resolve, { base_url = "http://127.0.0.1:9", access_token = "a b", env_file = false })
    assert.is_false(ok)
    assert.equal("auth", err.code)
    local _, creds = oauth.resolve { base_url = "http://127.0.0.1:9", access_token = "eyJ0-x_y.z~1+/==",
      env_file = false }
    assert.is_true(creds:state().static)
  end)

  it("refuses a token from the login host with CR/LF, and sends no request with it", function()
    local srv = server.listen { handler = "tests.servers.behave", args = { token = "tok\r\nX-Injected: yes" } }
    local _, creds = oauth.resolve { base_url = srv:url(), client_id = "cid", client_secret = "csecret", env_file = false }
    local c = http.client { base_url = srv:url(), auth = creds, max_attempts = 1 }
    local resp, err = c.safe:request { path = "/echo" }
    local hits = http.client({ base_url = srv:url() }):request({ path = "/hits", query = { of = "/echo" } }):json().hits
    srv:stop()
    assert.is_nil(resp)
    assert.equal("auth", err.code)
    assert.matches("answered with an access_token that has characters no access token has", err.message)
    assert.equal(0, hits)
  end)
end)

describe("one source for target and credentials", function()
  local dir, srv
  before_each(function()
    dir = h.tmpdir()
    srv = server.listen { handler = "tests.servers.behave", args = { client_id = "cid", client_secret = "csecret" } }
  end)
  after_each(function() srv:stop(); h.rmtree(dir) end)

  it("refuses a .env that points credentials from the environment elsewhere; nothing is sent", function()
    h.write(dir .. "/.env", "GENESYS_BASE_URL=" .. srv:url() .. "\n")
    local r = h.run({ "queue-sync", h.srcdir .. "/examples/queues/claims.json" },
      { env = env { GENESYSCLOUD_OAUTHCLIENT_ID = "cid", GENESYSCLOUD_OAUTHCLIENT_SECRET = "csecret" }, cwd = dir })
    assert.equal(2, r.status)
    assert.matches("%.env sets the base URL, but the client id comes from the environment " ..
      "%(GENESYSCLOUD_OAUTHCLIENT_ID%): gcrun will not send credentials from one place to a host that another chose",
      r.stderr)
    assert.same({}, token_requests(srv))
    -- the same with a region in .env and a secret from the environment only
    h.write(dir .. "/.env", "GENESYSCLOUD_REGION=eu-west-1\nGENESYSCLOUD_OAUTHCLIENT_ID=cid\n")
    os.execute("chmod 600 " .. h.quote(dir .. "/.env"))
    r = resolve(dir, { GENESYSCLOUD_OAUTHCLIENT_SECRET = "s" })
    assert.equal(2, r.status)
    assert.matches("sets the region, but the client secret comes from the environment", r.stderr)
  end)

  it("takes target and credentials together from .env, or the target from the command line", function()
    h.write(dir .. "/.env", "GENESYSCLOUD_REGION=eu-west-1\nGENESYSCLOUD_OAUTHCLIENT_ID=cid\n" ..
      "GENESYSCLOUD_OAUTHCLIENT_SECRET=s\n")
    os.execute("chmod 600 " .. h.quote(dir .. "/.env"))
    local r = resolve(dir, {})
    assert.equal(0, r.status, r.stderr)
    assert.equal("https://api.mypurecloud.ie\t.env\t.env\teu-west-1\n", r.stdout)
    h.write(dir .. "/.env", "GENESYS_BASE_URL=https://api.mypurecloud.de\n")
    r = resolve(dir, { GENESYSCLOUD_OAUTHCLIENT_ID = "i", GENESYSCLOUD_OAUTHCLIENT_SECRET = "s" },
      "{ region = 'us-west-2' }")
    assert.equal(0, r.status, r.stderr)
    assert.equal("https://api.usw2.pure.cloud\tGENESYSCLOUD_OAUTHCLIENT_ID\tGENESYSCLOUD_OAUTHCLIENT_SECRET\tus-west-2\n",
      r.stdout)
  end)

  it("prints the target: line before the login host is asked for a token", function()
    local r = h.run({ "queue-sync", "--base-url", srv:url(), h.srcdir .. "/examples/queues/claims.json" },
      { env = env { GENESYSCLOUD_OAUTHCLIENT_ID = "cid", GENESYSCLOUD_OAUTHCLIENT_SECRET = "wrong" }, cwd = dir })
    assert.equal(3, r.status)
    local first = r.stderr:match("^[^\n]*")
    assert.equal("target: " .. srv:url() .. " (base URL from --base-url)", first)
    assert.matches("refused the client credentials", r.stderr)
    assert.equal(1, #token_requests(srv))
  end)
end)

describe("secrets and .env lines that cannot be read", function()
  local dir
  before_each(function() dir = h.tmpdir() end)
  after_each(function() h.rmtree(dir) end)

  it("refuses a secret with a NUL byte instead of cutting it short", function()
    h.write(dir .. "/.env", "GENESYSCLOUD_OAUTHCLIENT_ID=cid\nGENESYSCLOUD_OAUTHCLIENT_SECRET=abc\0def\n")
    os.execute("chmod 600 " .. h.quote(dir .. "/.env"))
    local r = resolve(dir, {})
    assert.equal(3, r.status)
    assert.matches("the client secret from %.env contains a NUL byte", r.stderr)
    assert.not_matches("abc", r.stderr)
    local ok, err = pcall(oauth.resolve, { base_url = "http://127.0.0.1:9", client_id = "a", client_secret = "s\0t",
      env_file = false })
    assert.is_false(ok)
    assert.matches("the client secret from caller contains a NUL byte", err.message)
  end)

  it("reads a .env that starts with a UTF-8 byte order mark", function()
    h.write(dir .. "/.env", "\xEF\xBB\xBFGENESYSCLOUD_REGION=eu-west-1\nGENESYSCLOUD_OAUTHCLIENT_ID=cid\n" ..
      "GENESYSCLOUD_OAUTHCLIENT_SECRET=s\n")
    os.execute("chmod 600 " .. h.quote(dir .. "/.env"))
    local r = resolve(dir, {})
    assert.equal(0, r.status, r.stderr)
    assert.equal("https://api.mypurecloud.ie\t.env\t.env\teu-west-1\n", r.stdout)
  end)

  it("never falls back to the default region past a line it could not read: names file and line", function()
    h.write(dir .. "/.env", "GENESYSCLOUD_OAUTHCLIENT_ID=cid\nGENESYSCLOUD_OAUTHCLIENT_SECRET=s\n" ..
      "GENESYSCLOUD_REGION eu-west-1\n")
    os.execute("chmod 600 " .. h.quote(dir .. "/.env"))
    local r = resolve(dir, {})
    assert.equal(2, r.status)
    assert.matches("%.env:3: this line is not KEY=VALUE and cannot be read", r.stderr)
    assert.equal("", r.stdout)
    -- nor past a .env it could not read at all
    h.write(dir .. "/.env", "GENESYSCLOUD_REGION=eu-west-1\n# " .. string.rep("x", 70000) .. "\n")
    r = resolve(dir, { GENESYSCLOUD_OAUTHCLIENT_ID = "i", GENESYSCLOUD_OAUTHCLIENT_SECRET = "s" })
    assert.equal(2, r.status)
    assert.matches("%.env: cannot read it %(larger than 64 KiB%)", r.stderr)
  end)
end)

describe("regions", function()
  it("makes an unknown --region a usage error listing the known regions", function()
    local r = h.run({ "queue-sync", "--region", "mars-1", h.srcdir .. "/examples/queues/claims.json" },
      { env = env { GENESYSCLOUD_OAUTHCLIENT_ID = "a", GENESYSCLOUD_OAUTHCLIENT_SECRET = "b" } })
    assert.equal(2, r.status)
    assert.matches("unknown region 'mars%-1' from %-%-region; known regions: us%-east%-1, eu%-west%-1, ", r.stderr)
    assert.matches("eu%-central%-2", r.stderr)
  end)
end)

describe("base URLs", function()
  local function refused(url, vars)
    local r = h.run({ "queue-sync", "--base-url", url, h.srcdir .. "/examples/queues/claims.json" },
      { env = env(vars or { GENESYSCLOUD_ACCESS_TOKEN = "t" }) })
    assert.equal(2, r.status, r.stderr)
    assert.equal("", r.stdout)
    return r.stderr
  end

  it("refuses a query or a fragment, which the request paths would follow", function()
    assert.matches("the API base URL 'http://127.0.0.1:18100?x=1' has a query or fragment",
      refused("http://127.0.0.1:18100?x=1"), 1, true)
    assert.matches("has a query or fragment", refused("http://127.0.0.1:18100/api#frag"), 1, true)
  end)

  it("refuses a user name or password, and never prints it", function()
    local err = refused("http://user:hunter2@127.0.0.1:1", { GENESYSCLOUD_OAUTHCLIENT_ID = "a",
      GENESYSCLOUD_OAUTHCLIENT_SECRET = "b" })
    assert.matches("the API base URL from --base-url has a user name or password in it", err, 1, true)
    assert.matches("credentials go in the client id and secret settings", err, 1, true)
    assert.is_nil(err:find("hunter2", 1, true))
  end)
end)

describe("named profiles", function()
  local dir, sb
  setup(function() sb = h.sandbox() end)
  teardown(function() sb.stop() end)
  before_each(function()
    dir = h.tmpdir()
    os.execute("mkdir -p " .. h.quote(dir .. "/config/gcrun"))
  end)
  after_each(function() h.rmtree(dir) end)

  local function profiles(text, mode)
    local path = h.write(dir .. "/config/gcrun/profiles", text)
    os.execute("chmod " .. (mode or "644") .. " " .. h.quote(path))
  end

  local function run(args, vars)
    vars = vars or {}
    vars.XDG_CONFIG_HOME = dir .. "/config"
    -- credentials in the environment too: a profile ignores them
    vars.GENESYSCLOUD_OAUTHCLIENT_ID = vars.GENESYSCLOUD_OAUTHCLIENT_ID or "env-id"
    vars.GENESYSCLOUD_OAUTHCLIENT_SECRET = vars.GENESYSCLOUD_OAUTHCLIENT_SECRET or "env-secret"
    return h.run(args, { env = env(vars), cwd = dir })
  end

  local SYNC = { "queue-sync", "--dry-run", "--report", "r.json" }
  local function sync(profile, vars)
    local args = { table.unpack(SYNC) }
    table.insert(args, 2, "--profile")
    table.insert(args, 3, profile)
    args[#args + 1] = h.srcdir .. "/examples/queues/claims.json"
    return run(args, vars)
  end

  it("connects with a profile's base URL, client id and secret from an environment variable", function()
    profiles("# my orgs\n[other]\nregion = eu-west-1\nclient_id = x\nclient_secret_env = NOPE\n\n" ..
      "[sbx]\nbase_url = " .. sb.url .. "\nclient_id = " .. sb.client_id .. "  # the sandbox's\n" ..
      "client_secret_env = SBX_SECRET\n")
    local r = sync("sbx", { SBX_SECRET = sb.client_secret })
    assert.equal(0, r.status, r.stderr)
    assert.matches("target: " .. sb.url:gsub("%p", "%%%0") .. " %(profile sbx, base URL from profile sbx%)\n", r.stderr)
    r = sync("sbx", {})
    assert.equal(3, r.status)
    assert.matches("profile sbx takes its client secret from the environment variable SBX_SECRET, which is not set",
      r.stderr)
  end)

  it("reads the secret from a file only the user can read", function()
    local secret = h.write(dir .. "/secret", sb.client_secret .. "\n")
    profiles("[sbx]\nbase_url = " .. sb.url .. "\nclient_id = " .. sb.client_id .. "\nclient_secret_file = " ..
      secret .. "\n")
    os.execute("chmod 644 " .. h.quote(secret))
    local r = sync("sbx")
    assert.equal(3, r.status)
    assert.matches("the client secret file " .. secret:gsub("%p", "%%%0") .. " can be read by others: chmod 600", r.stderr)
    os.execute("chmod 600 " .. h.quote(secret))
    r = sync("sbx")
    assert.equal(0, r.status, r.stderr)
    -- ~/ is the user's home
    profiles("[sbx]\nbase_url = " .. sb.url .. "\nclient_id = " .. sb.client_id .. "\nclient_secret_file = ~/secret\n")
    r = sync("sbx", { HOME = dir })
    assert.equal(0, r.status, r.stderr)
  end)

  it("takes a secret in the profiles file itself only when the file is mode 0600", function()
    local text = "[sbx]\nbase_url = " .. sb.url .. "\nclient_id = " .. sb.client_id .. "\nclient_secret = " ..
      sb.client_secret .. "\n"
    profiles(text, "644")
    local r = sync("sbx")
    assert.equal(2, r.status)
    assert.matches("holds a client secret, but others can read the file: chmod 600", r.stderr)
    assert.is_nil(r.stderr:find(sb.client_secret, 1, true))
    profiles(text, "600")
    r = sync("sbx")
    assert.equal(0, r.status, r.stderr)
  end)

  it("says which profile is missing, which line is unreadable, and refuses mixing with --region", function()
    profiles("[a]\nregion = eu-west-1\n")
    local r = sync("b")
    assert.equal(2, r.status)
    assert.matches("%-%-profile b: no %[b%] section in " .. dir:gsub("%p", "%%%0") .. "/config/gcrun/profiles", r.stderr)
    profiles("[a]\nregion = eu-west-1\nsecret: x\n")
    r = sync("a")
    assert.equal(2, r.status)
    assert.matches("profiles:3: not `key = value`", r.stderr)
    profiles("[a]\nregion = eu-west-1\nclient_id = i\nclient_secret_env = HOME\n")
    r = run { "queue-sync", "--profile", "a", "--region", "us-west-2", h.srcdir .. "/examples/queues/claims.json" }
    assert.equal(2, r.status)
    assert.matches("%-%-profile a gives the target and the client; it cannot be combined with %-%-region", r.stderr)
  end)
end)

describe("one error class", function()
  it("gives errors raised in C and made in Lua the same metatable", function()
    local ok, err = pcall(oauth.resolve, { region = "mars-1", client_id = "a", client_secret = "b", env_file = false })
    assert.is_false(ok)
    local mine = errors.new("usage", "made in Lua")
    assert.equal(getmetatable(mine), getmetatable(err))
    assert.equal("gcrun.Error", getmetatable(err).__name)
    assert.equal("made in Lua", tostring(mine))
    assert.equal(err.message, tostring(err))
    assert.equal("error", tostring(errors.new(nil, nil)))
  end)
end)

describe("what a user may replace", function()
  local dir
  before_each(function() dir = h.tmpdir() end)
  after_each(function() h.rmtree(dir) end)

  it("ignores engine, transport and sandbox modules from --path and GCRUN_PATH, saying so", function()
    os.execute("mkdir -p " .. h.quote(dir .. "/gcrun/sandbox"))
    h.write(dir .. "/gcrun/http.lua", "error('replaced transport')")
    h.write(dir .. "/gcrun/sandbox/init.lua", "error('replaced sandbox')")
    local chunk = "print(type(require('gcrun.http').client), type(require('gcrun.sandbox').new))"
    for _, how in ipairs { { args = { "--path", dir } }, { env = { GCRUN_PATH = dir .. ";;" } } } do
      local args = {}
      for _, a in ipairs(how.args or {}) do args[#args + 1] = a end
      args[#args + 1] = "-e"
      args[#args + 1] = chunk
      local r = h.run(args, { env = how.env })
      assert.equal(0, r.status, r.stderr)
      assert.equal("function\tfunction\n", r.stdout)
      assert.matches(dir:gsub("%p", "%%%0") .. "/gcrun/http%.lua is ignored: gcrun%.http is part of gcrun " ..
        "%(engine, transport or sandbox%) and cannot be replaced; only policy modules can", r.stderr)
      assert.matches("gcrun/sandbox/init%.lua is ignored: gcrun%.sandbox is part of gcrun", r.stderr)
    end
  end)

  it("still lets policy modules and a rule file's own helpers come from there", function()
    os.execute("mkdir -p " .. h.quote(dir .. "/gcrun"))
    h.write(dir .. "/gcrun/flows.lua", "return { mine = true }")
    h.write(dir .. "/gcrun/report_md.lua", "return { mine = true }")
    h.write(dir .. "/myhelpers.lua", "return { mine = true }")
    local r = h.run { "--path", dir, "-e", "print(require('gcrun.flows').mine, require('gcrun.report_md').mine, " ..
      "require('myhelpers').mine)" }
    assert.equal(0, r.status, r.stderr)
    assert.equal("true\ttrue\ttrue\n", r.stdout)
    assert.equal("", r.stderr)
  end)
end)
