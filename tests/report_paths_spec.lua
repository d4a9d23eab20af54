-- Where the report goes, checked before anything is sent: gcrun's own
-- reports are never read as definitions, never replace an input file or a
-- file the user may not replace, and a run that sent no write keeps the
-- impact report of the last run that did.
local h = require "tests.helpers"
local json = require "gcrun.json"
local server = require "gcrun.server"
local sys = require "gcrun.sys"

local function requests(sb) return sb.stats().requests end

describe("the report's path", function()
  local sb, dir, org
  before_each(function()
    sb = h.sandbox()
    dir = h.tmpdir()
    org = sb.org()
  end)
  after_each(function()
    sb.stop()
    h.rmtree(dir)
  end)

  local function define(name, fields)
    fields.queue_id = fields.queue_id or org.queues[1].id
    return h.write(dir .. "/" .. name, json.encode(fields))
  end

  it("of the last run in the definitions folder is skipped as input, with a note", function()
    define("sales.json", { name = "Sales renamed" })
    local first = sb.run({ "queue-sync", "." }, { cwd = dir })
    assert.equal(0, first.status, first.stderr)
    assert.truthy(sys.stat(dir .. "/queue_impact_report.json"))
    -- under another name, it is known by what it holds
    os.execute("cp " .. h.quote(dir .. "/queue_impact_report.json") .. " " .. h.quote(dir .. "/last-run.json"))
    local again = sb.run({ "queue-sync", "." }, { cwd = dir })
    assert.equal(0, again.status, again.stderr)
    assert.truthy(again.stderr:find("./queue_impact_report.json: named as gcrun's reports are: skipped", 1, true),
      again.stderr)
    assert.truthy(again.stderr:find("./last-run.json: a report of gcrun's, not a queue definition: skipped", 1, true),
      again.stderr)
    assert.truthy(again.stdout:find("1 queue,", 1, true), again.stdout)
  end)

  it("naming an input file is a usage error, and the file is left alone", function()
    local file = define("sales.json", { name = "Sales renamed" })
    local before = h.read(file)
    local n = requests(sb)
    local r = sb.run({ "queue-sync", "--report", file, dir }, { cwd = dir })
    assert.equal(2, r.status, r.stderr)
    assert.truthy(r.stderr:find("would overwrite the definition file " .. dir .. "/sales.json", 1, true), r.stderr)
    assert.equal(before, h.read(file))
    assert.equal(n, requests(sb))
  end)

  it("empty is a usage error, with nothing sent", function()
    define("sales.json", { name = "Sales renamed" })
    local n = requests(sb)
    local r = sb.run({ "queue-sync", "--report", "", dir .. "/sales.json" }, { cwd = dir })
    assert.equal(2, r.status, r.stderr)
    assert.truthy(r.stderr:find("--report needs a file name", 1, true), r.stderr)
    assert.equal(n, requests(sb))
  end)

  it("- is stdout and never a file named -", function()
    define("sales.json", { name = "Sales renamed" })
    local r = sb.run({ "queue-sync", "--report", "-", dir .. "/sales.json" }, { cwd = dir })
    assert.equal(0, r.status, r.stderr)
    assert.equal("completed", json.decode(r.stdout).run.status)
    assert.is_nil(sys.stat(dir .. "/-"))
  end)

  it("to a file of another user's in a sticky directory is a usage error, with nothing sent", function()
    local nobody = { "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups" }
    if sys.getuid() ~= 0 or h.run({ "--version" }, { prefix = nobody }).status ~= 0 then
      pending("needs root, and the build tree reachable by the user nobody")
      return
    end
    os.execute("chmod 1777 " .. h.quote(dir))
    define("sales.json", { name = "Sales renamed" })
    os.execute("chmod 644 " .. h.quote(dir .. "/sales.json"))
    h.write(dir .. "/report.json", "{}")   -- root's
    local n = requests(sb)
    local env = sb.env()
    env.HOME = dir
    local r = h.run({ "queue-sync", "--base-url", sb.url, "--report", dir .. "/report.json", dir .. "/sales.json" },
      { prefix = nobody, env = env, cwd = dir })
    assert.equal(2, r.status, r.stderr)
    assert.truthy(r.stderr:find("belongs to another user", 1, true), r.stderr)
    assert.equal(n, requests(sb))
    assert.equal("{}", h.read(dir .. "/report.json"))
  end)

  describe("of a dry run", function()
    it("refuses a file that is not a report of gcrun's, saying so", function()
      define("sales.json", { name = "Sales renamed" })
      h.write(dir .. "/other.json", '{"not": "a report"}')
      local r = sb.run({ "queue-sync", "--dry-run", "--report", dir .. "/other.json", dir .. "/sales.json" })
      assert.equal(2, r.status, r.stderr)
      assert.truthy(r.stderr:find("other.json, which is not a report of gcrun's", 1, true), r.stderr)
      assert.equal('{"not": "a report"}', h.read(dir .. "/other.json"))
    end)

    it("replaces its own plan however deep the queue's pass-through keys nest", function()
      local deep = { x = 1 }
      for _ = 1, 61 do deep = { a = deep } end
      define("sales.json", { name = "Sales", queue = { deep = deep } })
      local plan = dir .. "/plan.json"
      local first = sb.run { "queue-sync", "--dry-run", "--report", plan, dir .. "/sales.json" }
      assert.equal(0, first.status, first.stderr)
      assert.is_nil(json.decode(h.read(plan)), "the plan is no longer too deep to decode: make the test deeper")
      local again = sb.run { "queue-sync", "--dry-run", "--report", plan, dir .. "/sales.json" }
      assert.equal(0, again.status, again.stderr)
    end)
  end)

  describe("of a run that sent no write", function()
    it("keeps the impact report of the last run that did and writes beside it", function()
      local file = define("sales.json", { name = "Sales renamed" })
      local report = dir .. "/queue_impact_report.json"
      local first = sb.run({ "queue-sync", file }, { cwd = dir })
      assert.equal(0, first.status, first.stderr)
      local kept = h.read(report)
      assert.is_true(json.decode(kept).run.writes_sent > 0)
      -- nothing left to change: no write
      local second = sb.run({ "queue-sync", file }, { cwd = dir })
      assert.equal(0, second.status, second.stderr)
      assert.equal(kept, h.read(report))
      assert.truthy(second.stderr:find("this run sent no write", 1, true), second.stderr)
      assert.truthy(second.stdout:find("report: queue_impact_report.unchanged.json", 1, true), second.stdout)
      assert.equal(0, json.decode(h.read(dir .. "/queue_impact_report.unchanged.json")).run.writes_sent)
      -- a run that fails before sending anything
      local srv = server.listen { handler = "tests.servers.answers", args = { routes = {
        ["/api/v2/routing/skills"] = { status = 400, body = '{"message": "no", "code": "bad.request", "status": 400}' },
      } } }
      local failed = h.run({ "queue-sync", "--base-url", srv:url(), file }, { cwd = dir, env = {
        GENESYSCLOUD_ACCESS_TOKEN = "t", GENESYSCLOUD_OAUTHCLIENT_ID = false, GENESYSCLOUD_OAUTHCLIENT_SECRET = false,
        GENESYSCLOUD_REGION = false, GENESYS_BASE_URL = false } })
      srv:stop()
      assert.equal(1, failed.status, failed.stderr)
      assert.equal(kept, h.read(report))
      assert.equal("failed", json.decode(h.read(dir .. "/queue_impact_report.failed.json")).run.status)
    end)

    it("writes a report of the user's choosing where asked", function()
      local file = define("sales.json", { name = "Sales renamed" })
      local report = dir .. "/audit.json"
      assert.equal(0, sb.run({ "queue-sync", "--report", report, file }, { cwd = dir }).status)
      assert.is_true(json.decode(h.read(report)).run.writes_sent > 0)
      local r = sb.run({ "queue-sync", "--report", report, file }, { cwd = dir })
      assert.equal(0, r.status, r.stderr)
      assert.equal(0, json.decode(h.read(report)).run.writes_sent)
      assert.is_nil(sys.stat(dir .. "/audit.unchanged.json"))
    end)

    it("replaces a report that records no write either", function()
      local file = define("sales.json", { name = org.queues[1].name })
      local report = dir .. "/queue_impact_report.json"
      assert.equal(0, sb.run({ "queue-sync", file }, { cwd = dir }).status)
      h.write(report, h.read(report):gsub('"generated_at": "', '"generated_at": "1'))
      local r = sb.run({ "queue-sync", file }, { cwd = dir })
      assert.equal(0, r.status, r.stderr)
      assert.is_nil(h.read(report):find('"generated_at": "1', 1, true))
      assert.is_nil(sys.stat(dir .. "/queue_impact_report.unchanged.json"))
    end)
  end)
end)
