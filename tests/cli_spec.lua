-- The command line as a user meets it: help, version, list, running
-- scripts by name, by file and as chunks, errors and exit statuses.
local h = require "tests.helpers"

local function script(dir, name, body)
  os.execute("mkdir -p " .. h.quote(dir .. "/scripts"))
  return h.write(dir .. "/scripts/" .. name .. ".lua", body)
end

describe("gcrun", function()
  it("prints its version and the libraries it runs on", function()
    local r = h.run { "--version" }
    assert.equal(0, r.status)
    assert.matches("^gcrun %d+%.%d+%.%d+ %(Lua 5%.4, libcurl [%d.]+, libmicrohttpd [%d.]+%)\n$", r.stdout)
  end)

  it("prints help with the global and common options", function()
    local r = h.run { "--help" }
    assert.equal(0, r.status)
    assert.matches("usage: gcrun", r.stdout, 1, true)
    assert.matches("--list", r.stdout, 1, true)
    assert.matches("--sandbox", r.stdout, 1, true)
    assert.matches("--region REGION", r.stdout, 1, true)
  end)

  it("lists the bundled scripts with their descriptions", function()
    local r = h.run { "--list" }
    assert.equal(0, r.status)
    assert.matches("queue%-sync +Apply queue definition files", r.stdout)
    assert.matches("sandbox +", r.stdout)
  end)

  it("with no arguments shows usage on stderr and exits 2", function()
    local r = h.run {}
    assert.equal(2, r.status)
    assert.matches("usage: gcrun", r.stderr, 1, true)
    assert.equal("", r.stdout)
  end)

  it("names a missing script, suggests a close one, and exits 2", function()
    local r = h.run { "queue-snyc" }
    assert.equal(2, r.status)
    assert.matches("gcrun: no script named 'queue%-snyc' %(did you mean 'queue%-sync'%?%)", r.stderr)
  end)

  it("rejects an unknown global option naming it", function()
    local r = h.run { "--frobnicate" }
    assert.equal(2, r.status)
    assert.matches("unknown option '%-%-frobnicate'", r.stderr)
  end)

  it("rejects an unknown script option naming it and the closest one", function()
    local r = h.run { "queue-sync", "--dry-runn", "x.json" }
    assert.equal(2, r.status)
    assert.matches("gcrun: queue%-sync: unknown option '%-%-dry%-runn' %(did you mean '%-%-dry%-run'%?%)", r.stderr)
  end)

  it("rejects a bad option value naming the option", function()
    local r = h.run { "queue-sync", "--concurrency", "many", "x.json" }
    assert.equal(2, r.status)
    assert.matches("%-%-concurrency expects a whole number, got 'many'", r.stderr)
  end)

  it("counts the bundled scripts as gcrun's code, and the user's scripts as theirs", function()
    local r = h.run { "-e", "error(require('gcrun.sys').datadir() .. '/scripts/queue-sync.lua:12: boom', 0)" }
    assert.equal("gcrun: internal error: boom (--debug shows where; please report it)\n", r.stderr)
    local dir = h.tmpdir()
    local path = h.write(dir .. "/mine.lua", "local t = nil\nreturn t.x")
    r = h.run { path }
    assert.equal("gcrun: " .. path .. ":2: attempt to index a nil value (local 't')\n", r.stderr)
    h.rmtree(dir)
  end)

  it("escapes control characters in a script's help", function()
    local dir = h.tmpdir()
    local path = h.write(dir .. "/odd.lua", [[return { description = "odd\27]0;title\7 script",
      options = { { "x", "an \27[2J option" } }, main = function() end }]])
    local r = h.run { path, "--help" }
    assert.equal(0, r.status)
    assert.is_nil(r.stdout:find("\27", 1, true))
    assert.matches("odd\\e]0;title\\x07 script", r.stdout, 1, true)
    assert.matches("an \\e[2J option", r.stdout, 1, true)
    h.rmtree(dir)
  end)

  it("lists each option once in --help, for gcrun and every bundled script", function()
    local runs = { { "--help" } }
    for name in h.run({ "--list" }).stdout:gmatch("([^%s]+)[^\n]*\n") do runs[#runs + 1] = { name, "--help" } end
    assert.is_true(#runs >= 4)
    for _, args in ipairs(runs) do
      local r = h.run(args)
      assert.equal(0, r.status)
      local seen = {}
      for name in r.stdout:gmatch("\n  [%-%a, ]-%-%-([%w%-]+)") do
        assert.is_nil(seen[name], table.concat(args, " ") .. " lists --" .. name .. " twice")
        seen[name] = true
      end
      assert.is_true(next(seen) ~= nil)
    end
  end)

  it("lists in a script's help only the options that apply to it", function()
    local r = h.run { "sandbox", "--help" }
    for _, o in ipairs { "--sandbox", "--region", "--dry-run", "--client-id" } do
      assert.is_nil(r.stdout:find(o .. " ", 1, true), "sandbox --help lists " .. o)
    end
    assert.matches("--verbose", r.stdout, 1, true)
    r = h.run { "queue-export", "--help" }
    assert.is_nil(r.stdout:find("--dry-run", 1, true))
    assert.matches("--region REGION", r.stdout, 1, true)
    local sync = h.run { "queue-sync", "--help" }
    assert.matches("--sandbox ", sync.stdout, 1, true)
    assert.matches("--dry-run ", sync.stdout, 1, true)
  end)

  it("refuses a common option, before the script name, that the script does not take (exit 2)", function()
    local r = h.run { "--region", "eu-west-1", "sandbox", "--memory", "--port", "0" }
    assert.equal(2, r.status)
    assert.matches("gcrun: sandbox: unknown option '--region'", r.stderr, 1, true)
  end)

  it("refuses --sandbox with a real org's --region as a usage error (exit 2)", function()
    local r = h.run { "--sandbox", "queue-sync", "--region", "eu-west-1", "x.json" }
    assert.equal(2, r.status)
    assert.equal("gcrun: --sandbox and --region cannot be used together\n", r.stderr)
  end)

  it("takes output options before the script name, as after it", function()
    local dir = h.tmpdir()
    local path = h.write(dir .. "/lvl.lua", [[
      return { main = function() print(require("gcrun.log").level(), require("gcrun.log").debug()) end }]])
    assert.equal("2\ttrue\n", h.run({ "-v", "--debug", path }).stdout)
    assert.equal("0\tfalse\n", h.run({ path, "-q" }).stdout)
    h.rmtree(dir)
  end)

  it("prints a script's usage from its declared options", function()
    local r = h.run { "queue-sync", "--help" }
    assert.equal(0, r.status)
    assert.matches("usage: gcrun queue%-sync %[options%]", r.stdout)
    assert.matches("%-%-dry%-run", r.stdout)
    assert.matches("%-%-report FILE", r.stdout)
    assert.matches("common options:", r.stdout, 1, true)
  end)

  it("runs a chunk with -e, passing the remaining arguments", function()
    local r = h.run { "-e", "print(select('#', ...), ...)", "a", "b" }
    assert.equal(0, r.status)
    assert.equal("2\ta\tb\n", r.stdout)
  end)

  it("runs a script file and parses the options it declares", function()
    local dir = h.tmpdir()
    local path = h.write(dir .. "/greet.lua", [[
      return {
        description = "greet someone",
        options = { { "name=WHO", "who to greet", default = "world" }, { "loud", "shout" } },
        main = function(opts, args)
          local s = "hello " .. opts.name .. " " .. table.concat(args, ",")
          print(opts.loud and s:upper() or s)
        end,
      }]])
    local r = h.run { path, "--name", "ada", "x", "--loud", "y" }
    assert.equal(0, r.status)
    assert.equal("HELLO ADA X,Y\n", r.stdout)
    h.rmtree(dir)
  end)

  it("exits with the status a script's main returns", function()
    local r = h.run { "-e", "return { main = function() return 1 end }" }
    assert.equal(1, r.status)
  end)

  it("reports a script error as 'gcrun: message' and exits 1", function()
    local r = h.run { "-e", "error('boom')" }
    assert.equal(1, r.status)
    assert.matches("^gcrun: %(command line%):1: boom\n$", r.stderr)
  end)

  it("adds a Lua traceback to a script error under --debug only", function()
    local r = h.run { "-e", "local function f() error('boom') end f()", "--debug" }
    assert.equal(1, r.status)
    assert.matches("gcrun: %(command line%):1: boom", r.stderr)
    assert.matches("stack traceback:", r.stderr, 1, true)
    assert.matches("in local 'f'", r.stderr, 1, true)
    r = h.run { "-e", "local function f() error('boom') end f()", "-v", "-v" }
    assert.equal("gcrun: (command line):1: boom\n", r.stderr)
  end)

  it("says an internal error is one, without gcrun's Lua location unless --debug", function()
    local chunk = "require('gcrun.text').closest(5, { 'a' })"   -- a Lua error inside gcrun's library
    local r = h.run { "-e", chunk, "-v" }
    assert.equal(1, r.status)
    assert.equal("gcrun: internal error: attempt to index a number value (local 'word')"
      .. " (--debug shows where; please report it)\n", r.stderr)
    r = h.run { "--debug", "-e", chunk }
    assert.equal(1, r.status)
    assert.matches("^gcrun: %S*lua/gcrun/text%.lua:%d+: attempt to index a number value", r.stderr)
    assert.matches("stack traceback:", r.stderr, 1, true)
  end)

  it("maps a structured error's code to the exit status", function()
    local r = h.run { "-e", "error(require('gcrun.errors').new('auth', 'bad credentials'), 0)" }
    assert.equal(3, r.status)
    assert.equal("gcrun: bad credentials\n", r.stderr)
  end)

  it("runs scripts with strict globals", function()
    local r = h.run { "-e", "x = 1" }
    assert.equal(1, r.status)
    assert.matches("assignment to undeclared global 'x'", r.stderr, 1, true)
    r = h.run { "-e", "print(undefined_thing)" }
    assert.equal(1, r.status)
    assert.matches("undeclared global 'undefined_thing'", r.stderr, 1, true)
  end)

  it("refuses a script file that does not exist, exit 2", function()
    local r = h.run { "./no/such/file.lua" }
    assert.equal(2, r.status)
    assert.matches("cannot open script file './no/such/file.lua'", r.stderr, 1, true)
  end)

  it("reports a syntax error in a script file with its line", function()
    local dir = h.tmpdir()
    local path = h.write(dir .. "/bad.lua", "local x = \n return {")
    local r = h.run { path }
    assert.equal(2, r.status)
    assert.matches("bad.lua:2:", r.stderr, 1, true)
    h.rmtree(dir)
  end)
end)

describe("script lookup", function()
  local a, b, home

  before_each(function()
    a, b, home = h.tmpdir(), h.tmpdir(), h.tmpdir()
    script(a, "hello", "print('from a')")
    script(b, "hello", "print('from b')")
    script(home .. "/gcrun", "hello", "print('from config')")
    script(home .. "/gcrun", "mine", "print('only in config')")
  end)

  after_each(function()
    h.rmtree(a); h.rmtree(b); h.rmtree(home)
  end)

  local function run(args, gcrun_path)
    return h.run(args, { env = { GCRUN_PATH = gcrun_path or false, XDG_CONFIG_HOME = home } })
  end

  it("takes --path first, then GCRUN_PATH", function()
    assert.equal("from b\n", run({ "--path", b, "hello" }, a).stdout)
    assert.equal("from a\n", run({ "hello" }, a .. ";" .. b).stdout)
  end)

  it("uses ~/.config/gcrun when GCRUN_PATH is unset", function()
    assert.equal("from config\n", run({ "hello" }).stdout)
  end)

  it("expands an empty GCRUN_PATH entry (;;) to the defaults", function()
    assert.equal("only in config\n", run({ "mine" }, a .. ";;").stdout)
    assert.equal("from a\n", run({ "hello" }, a .. ";;").stdout)
  end)

  it("leaves the defaults out when GCRUN_PATH has no empty entry", function()
    local r = run({ "mine" }, a)
    assert.equal(2, r.status)
    assert.matches("no script named 'mine'", r.stderr, 1, true)
  end)

  it("always finds the bundled scripts in the data directory last", function()
    local r = run({ "--list" }, a)
    assert.matches("hello", r.stdout, 1, true)
    assert.matches("queue%-sync", r.stdout)
  end)

  it("lets a user rule file override a bundled module", function()
    os.execute("mkdir -p " .. h.quote(home .. "/gcrun/gcrun"))
    h.write(home .. "/gcrun/gcrun/corrections.lua", "return { overridden = true }")
    local r = run { "-e", "print(require('gcrun.corrections').overridden)" }
    assert.equal("true\n", r.stdout)
  end)
end)
