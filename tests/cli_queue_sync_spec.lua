-- queue-sync from the operator's side: which stream gets what, checks
-- before the first request, where reports go, what is printed of text
-- that came from outside. Run as a user runs it, against a sandbox org.
local h = require "tests.helpers"
local json = require "gcrun.json"

local EXAMPLES = h.srcdir .. "/examples/queues"

local function pattern(s) return (s:gsub("%p", "%%%0")) end

describe("queue-sync's output streams", function()
  local sb, dir

  before_each(function()
    sb = h.sandbox()
    dir = h.tmpdir()
  end)
  after_each(function()
    sb.stop()
    h.rmtree(dir)
  end)

  it("puts results on stdout and diagnostics on stderr", function()
    h.write(dir .. "/bad.json", "{ not json")
    local r = sb.run { "queue-sync", "--keep-going", "--report", dir .. "/report.json", EXAMPLES, dir .. "/bad.json" }
    assert.equal(1, r.status, r.stderr)
    -- results: per-queue lines, corrections, flows, the summary
    assert.matches("\n  updated +Billing & Payments %(%x+%)", "\n" .. r.stdout)
    assert.matches("corrected by unknown%-skill", r.stdout)
    assert.matches("flow Inbound 01 %(%x+%): version 1 %-> 2", r.stdout)
    assert.matches("queue%-sync completed: 6 queues", r.stdout)
    -- diagnostics: the target, progress, warnings, errors
    assert.matches("target: " .. pattern(sb.url), r.stderr)
    assert.matches("gcrun: warning: skipping 1 invalid file", r.stderr, 1, true)
    assert.matches("bad.json: line 1, column 3: invalid JSON", r.stderr, 1, true)
    for _, s in ipairs { "target:", "warning", "gcrun:" } do assert.is_nil(r.stdout:find(s, 1, true), s) end
    for _, s in ipairs { "updated ", "corrected by", "queue-sync completed" } do
      assert.is_nil(r.stderr:find(s, 1, true), s)
    end
  end)

  it("with --output json prints the report's JSON on stdout and nothing else", function()
    local r = sb.run { "queue-sync", "--output", "json", "--report", dir .. "/report.json", EXAMPLES }
    assert.equal(0, r.status, r.stderr)
    local doc = json.decode(r.stdout)
    assert.same(json.decode(h.read(dir .. "/report.json")), doc)
    assert.equal(6, #doc.changes)
    -- the lines for people moved to stderr
    assert.matches("queue%-sync completed: 6 queues", r.stderr)
  end)

  it("refuses --report - with --output json, which both want stdout (exit 2, nothing sent)", function()
    local before = sb.stats()
    for _, args in ipairs { { "--report", "-", "--output", "json" }, { "--output=json", "--report=-", "--dry-run" } } do
      local argv = { "queue-sync" }
      table.move(args, 1, #args, 2, argv)
      argv[#argv + 1] = EXAMPLES
      local r = sb.run(argv)
      assert.equal(2, r.status, r.stderr)
      assert.matches("--report - and --output json cannot be used together", r.stderr, 1, true)
      assert.equal("", r.stdout)
    end
    assert.same(before, sb.stats())
  end)
end)

describe("queue-sync's checks before the first request", function()
  local sb, dir

  before_each(function()
    sb = h.sandbox()
    dir = h.tmpdir()
  end)
  after_each(function()
    sb.stop()
    h.rmtree(dir)
  end)

  local function refused(args, message)
    local r = sb.run(args)
    assert.equal(2, r.status, r.stderr)
    assert.matches(message, r.stderr, 1, true)
    assert.equal("", r.stdout)
    assert.equal(0, sb.stats().requests, "a request was sent")
  end

  it("refuses a report in a directory that does not exist, sending nothing (exit 2)", function()
    refused({ "queue-sync", "--report", dir .. "/nodir/x/report.json", EXAMPLES },
      "cannot write the report " .. dir .. "/nodir/x/report.json: the directory " .. dir .. "/nodir/x does not exist")
  end)

  it("refuses a directory as the report path, sending nothing (exit 2)", function()
    refused({ "queue-sync", "--report", dir, EXAMPLES }, "--report " .. dir .. " is a directory")
  end)

  it("refuses a report in a directory that takes no new file, sending nothing (exit 2)", function()
    -- /proc takes no new file, even from root
    refused({ "queue-sync", "--report", "/proc/gcrun-report.json", EXAMPLES },
      "cannot write the report /proc/gcrun-report.json: ")
  end)

  it("refuses a negative --lock-wait, sending nothing (exit 2)", function()
    refused({ "queue-sync", "--lock-wait", "-1", "--report", dir .. "/r.json", EXAMPLES },
      "--lock-wait must be 0 or more")
  end)

  it("refuses --no-flows with --flow as a usage error, sending nothing (exit 2)", function()
    refused({ "queue-sync", "--no-flows", "--flow", "f1", "--report", dir .. "/r.json", EXAMPLES },
      "--no-flows and --flow cannot be used together")
  end)

  it("refuses a --cacert file that does not exist, sending nothing (exit 2)", function()
    refused({ "queue-sync", "--cacert", dir .. "/none.pem", "--report", dir .. "/r.json", EXAMPLES },
      "--cacert names a file that does not exist: " .. dir .. "/none.pem")
  end)

  it("refuses a --cacert file that holds no PEM certificate, sending nothing (exit 2)", function()
    h.write(dir .. "/garbage.pem", "not a certificate\n-----BEGIN CERTIFICATE-----\n")
    refused({ "queue-sync", "--cacert", dir .. "/garbage.pem", "--report", dir .. "/r.json", EXAMPLES },
      "--cacert names " .. dir .. "/garbage.pem, which holds no PEM certificate")
  end)

  it("refuses a rule file that does not load, sending nothing (exit 2)", function()
    h.write(dir .. "/rules.lua", "return {")
    refused({ "queue-sync", "--rules", dir .. "/rules.lua", "--report", dir .. "/r.json", EXAMPLES },
      "rule file " .. dir .. "/rules.lua")
  end)
end)

describe("queue-sync --dry-run's plan", function()
  local sb, dir

  before_each(function()
    sb = h.sandbox()
    dir = h.tmpdir()
  end)
  after_each(function()
    sb.stop()
    h.rmtree(dir)
  end)

  it("goes to queue_plan_report.json, leaving the last run's impact report alone", function()
    local real = sb.run({ "queue-sync", EXAMPLES }, { cwd = dir })
    assert.equal(0, real.status, real.stderr)
    local impact = h.read(dir .. "/queue_impact_report.json")
    assert.is_false(json.decode(impact).run.dry_run)
    local plan = sb.run({ "queue-sync", "--dry-run", EXAMPLES }, { cwd = dir })
    assert.equal(0, plan.status, plan.stderr)
    assert.equal(impact, h.read(dir .. "/queue_impact_report.json"))
    assert.is_true(json.decode(h.read(dir .. "/queue_plan_report.json")).run.dry_run)
    assert.matches("report: queue_plan_report.json", plan.stdout, 1, true)
    -- and a second dry run replaces its own plan, in any format
    assert.equal(0, sb.run({ "queue-sync", "--dry-run", EXAMPLES }, { cwd = dir }).status)
    for _, f in ipairs { "plan.md", "plan.html" } do
      for _ = 1, 2 do assert.equal(0, sb.run({ "queue-sync", "--dry-run", "--report", f, EXAMPLES }, { cwd = dir }).status) end
    end
  end)

  it("is never written over an impact report, even when --report names it (exit 2)", function()
    assert.equal(0, sb.run({ "queue-sync", EXAMPLES }, { cwd = dir }).status)
    local impact = h.read(dir .. "/queue_impact_report.json")
    local before = sb.stats().requests
    local r = sb.run({ "queue-sync", "--dry-run", "--report", "queue_impact_report.json", EXAMPLES }, { cwd = dir })
    assert.equal(2, r.status)
    assert.matches("--dry-run would replace queue_impact_report.json, the report of a real run", r.stderr, 1, true)
    assert.equal(impact, h.read(dir .. "/queue_impact_report.json"))
    assert.equal(before, sb.stats().requests)
  end)
end)

describe("queue-sync's common options", function()
  it("are accepted before the script name too", function()
    local sb, dir = h.sandbox(), h.tmpdir()
    local r = h.run({ "--base-url", sb.url, "-q", "queue-sync", "--report", dir .. "/r.json", EXAMPLES },
      { env = sb.env() })
    assert.equal(0, r.status, r.stderr)
    assert.matches("^queue%-sync completed: 6 queues", r.stdout)
    assert.is_true(sb.stats().requests > 0)
    sb.stop()
    h.rmtree(dir)
  end)

  it("start the in-process sandbox with --sandbox before the script name", function()
    local dir = h.tmpdir()
    local r = h.run { "--sandbox", "--sandbox-state", dir .. "/state.json", "queue-sync", "--report",
      dir .. "/r.json", EXAMPLES }
    assert.equal(0, r.status, r.stderr)
    assert.matches("target: sandbox org at http://127%.0%.0%.1:%d+", r.stderr)
    assert.equal(6, #json.decode(h.read(dir .. "/r.json")).changes)
    h.rmtree(dir)
  end)
end)

describe("text from outside, printed", function()
  local EVIL = "Evil\27]0;pwned\7\n  updated     Fake (12345678)  all fine"

  it("has its control characters escaped: no forged line, no terminal escape", function()
    local dir = h.tmpdir()
    local org = json.decode(h.read(h.srcdir .. "/examples/sandbox-org.json"))
    org.queues[1].name = EVIL
    h.write(dir .. "/org.json", json.encode(org))
    local sb = h.sandbox { org = dir .. "/org.json" }
    -- renaming another queue to that name: the service's 400 quotes it back
    h.write(dir .. "/dup.json", json.encode { queue_id = org.queues[5].id, name = EVIL })
    local r = sb.run { "queue-sync", "--report", dir .. "/r.json", dir .. "/dup.json" }
    assert.equal(1, r.status, r.stderr)
    local all = r.stdout .. r.stderr
    assert.is_nil(all:find("\27", 1, true), "a raw escape character was printed")
    assert.is_nil(all:find("\7", 1, true), "a raw BEL was printed")
    assert.is_nil(all:find("\n  updated", 1, true), "a forged per-queue line was printed")
    assert.matches("Evil\\e]0;pwned\\x07\\n  updated     Fake (12345678)  all fine", r.stdout, 1, true)
    sb.stop()
    h.rmtree(dir)
  end)

  it("escapes a file name's control characters in an error", function()
    local dir = h.tmpdir()
    local path = dir .. "/x\27[2Jy.json"
    h.write(path, "{ broken")
    local r = h.run { "queue-sync", "--sandbox", "--sandbox-state", dir .. "/s.json", path }
    assert.equal(2, r.status)
    assert.is_nil(r.stderr:find("\27", 1, true))
    assert.matches("x\\e[2Jy.json: line 1", r.stderr, 1, true)
    h.rmtree(dir)
  end)

  it("escapes a request's path in the sandbox's request log", function()
    local r = h.run { "-e", [[
      local launch = require "gcrun.sandbox.launch"
      local sb = launch.start { port = 0, state = false, log = true }
      require("gcrun.http").client({ base_url = sb.url, max_attempts = 1 }):request { path = "/x%1b]0;pwned%07y" }
      sb.server:stop()]] }
    assert.equal(0, r.status, r.stderr)
    assert.is_nil(r.stderr:find("\27", 1, true))
    assert.matches("GET /x\\e]0;pwned\\x07y -> 401", r.stderr, 1, true)
  end)
end)
