-- A rule file cannot end the run silently: os.exit in it (called when the
-- file loads, or by a rule as it runs, or reached through require "os")
-- is an error naming the file; the run goes on, fails that queue and
-- writes its report.
local h = require "tests.helpers"
local json = require "gcrun.json"

local ORG = json.decode(h.read(h.srcdir .. "/examples/sandbox-org.json"))

describe("os.exit in a rule file", function()
  local sb, dir
  before_each(function()
    sb = h.sandbox()
    dir = h.tmpdir()
    -- a repeated member is a finding the rules see before anything is sent
    h.write(dir .. "/q.json", string.format('{"queue_id": "%s", "name": "%s", "members": {"%s": 1, "%s": 2}}',
      ORG.queues[1].id, ORG.queues[1].name, ORG.users[1].id, ORG.users[1].id))
  end)
  after_each(function()
    sb.stop()
    h.rmtree(dir)
  end)

  local function sync(rules)
    local path = h.write(dir .. "/rules.lua", rules)
    local r = sb.run { "queue-sync", "--report", dir .. "/report.json", "--rules", path, dir .. "/q.json" }
    local ok, doc = pcall(function() return json.decode(h.read(dir .. "/report.json")) end)
    r.report = ok and doc or nil
    return r, path
  end

  it("called by a rule fails that queue, names the file, and the report is written", function()
    local r, path = sync [[
      return function(bundled)
        table.insert(bundled, 1, { name = "quit", match = function() return true end,
          fix = function() os.exit(0) end })
        return bundled
      end]]
    assert.equal(1, r.status, r.stderr)
    assert.matches("rule file " .. path:gsub("%p", "%%%0") .. " called os.exit; a rule file cannot end the run", r.stdout)
    assert.equal("failed", r.report.changes[1].status)
    assert.matches("called os.exit", r.report.changes[1].error)
  end)

  it("reached through require \"os\" is the same", function()
    local r = sync [[
      local os = require "os"
      return { { name = "quit", match = function() return true end, fix = function() os.exit(true) end } }]]
    assert.equal(1, r.status, r.stderr)
    assert.equal("failed", r.report.changes[1].status)
  end)

  it("called as the file loads is an input error, before anything is sent", function()
    local r, path = sync "os.exit(0)"
    assert.equal(2, r.status, r.stderr)
    assert.matches("^gcrun: rule file " .. path:gsub("%p", "%%%0") .. " called os.exit", r.stderr)
    local m = sb.stats().by_method
    assert.equal(0, (m.PUT or 0) + (m.POST or 0) + (m.PATCH or 0))
  end)
end)

describe("os.exit in a policy module from the user's folder (~/.config/gcrun/gcrun/corrections.lua)", function()
  local sb, dir, home, module
  before_each(function()
    sb = h.sandbox()
    dir, home = h.tmpdir(), h.tmpdir()
    h.write(dir .. "/q.json", string.format('{"queue_id": "%s", "name": "%s", "members": {"%s": 1, "%s": 2}}',
      ORG.queues[1].id, ORG.queues[1].name, ORG.users[1].id, ORG.users[1].id))
    assert(os.execute("mkdir -p " .. h.quote(home .. "/.config/gcrun/gcrun")))
    module = home .. "/.config/gcrun/gcrun/corrections.lua"
  end)
  after_each(function()
    sb.stop()
    h.rmtree(dir)
    h.rmtree(home)
  end)

  local function sync(source)
    h.write(module, source)
    local r = sb.run({ "queue-sync", "--report", dir .. "/report.json", dir .. "/q.json" },
      { env = { HOME = home, XDG_CONFIG_HOME = false, GCRUN_PATH = false } })
    local ok, doc = pcall(function() return json.decode(h.read(dir .. "/report.json")) end)
    r.report = ok and doc or nil
    return r
  end

  it("called by a rule fails that queue, names the file, and the report is written", function()
    local r = sync [[
      return { { name = "quit", match = function() return true end, fix = function() os.exit(0) end } }]]
    assert.equal(1, r.status, r.stderr)
    assert.matches("module " .. module:gsub("%p", "%%%0") .. " called os.exit; a policy module cannot end the run",
      r.stdout)
    assert.equal("failed", r.report.changes[1].status)
  end)

  it("called as the module loads is an error naming the file, before anything is sent", function()
    local r = sync [[local os = require "os"; os.exit(0)]]
    assert.equal(2, r.status, r.stderr)
    assert.matches("module " .. module:gsub("%p", "%%%0") .. " called os.exit", r.stderr)
    assert.is_nil(r.report)
    local m = sb.stats().by_method
    assert.equal(0, (m.PUT or 0) + (m.POST or 0) + (m.PATCH or 0))
  end)
end)
