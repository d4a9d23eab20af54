-- The client one-off scripts use (require "gcrun"), queue-export, and the
-- example migration script, run as a user runs them.
local h = require "tests.helpers"
local json = require "gcrun.json"

local ORG = json.decode(h.read(h.srcdir .. "/examples/sandbox-org.json"))

describe("require 'gcrun' in a script", function()
  local sb, dir
  before_each(function() sb, dir = h.sandbox(), h.tmpdir() end)
  after_each(function() sb.stop(); h.rmtree(dir) end)

  local function script(body, args)
    local path = h.write(dir .. "/s.lua", body)
    local full = { path }
    for _, a in ipairs(args or {}) do full[#full + 1] = a end
    return sb.run(full)
  end

  it("gets, pages through and writes with the authenticated client", function()
    local r = script([[
      local gc = require "gcrun"
      local n = 0
      for q in gc.paginate("/api/v2/routing/queues", { pageSize = 5 }) do n = n + 1 end
      local q = gc.get("/api/v2/routing/queues/" .. gc.encode(...))
      q.description = "changed by a script"
      gc.put("/api/v2/routing/queues/" .. q.id, q)
      print(n, gc.get("/api/v2/routing/queues/" .. q.id).description, gc.dry_run)]], { ORG.queues[1].id })
    assert.equal(0, r.status, r.stderr)
    assert.equal(#ORG.queues .. "\tchanged by a script\tfalse\n", r.stdout)
  end)

  it("raises a structured error with the service's answer, and has safe twins", function()
    local r = script([[
      local gc = require "gcrun"
      local v, err = gc.safe.get("/api/v2/routing/queues/nope")
      print(v, err.code, err.status)
      gc.get("/api/v2/routing/queues/nope")]])
    assert.equal(1, r.status)
    assert.equal("nil\tnot_found\t404\n", r.stdout)
    assert.matches("gcrun: GET /api/v2/routing/queues/nope: HTTP 404 not%.found", r.stderr)
  end)

  it("runs work in parallel over one client", function()
    local r = script([[
      local gc = require "gcrun"
      local ids = {}
      for q in gc.paginate("/api/v2/routing/queues") do ids[#ids + 1] = q.id end
      local names = gc.parallel(ids, function(id) return gc.get("/api/v2/routing/queues/" .. id).name end,
        { concurrency = 6 })
      print(#names)]])
    assert.equal(0, r.status, r.stderr)
    assert.equal(#ORG.queues .. "\n", r.stdout)
  end)

  it("sends no write under --dry-run", function()
    local r = script([[
      local gc = require "gcrun"
      print(gc.dry_run, gc.put("/api/v2/routing/queues/x", {}))]], { "--dry-run" })
    assert.equal(0, r.status, r.stderr)
    assert.equal("true\tnil\n", r.stdout)
    assert.matches("dry run: would PUT /api/v2/routing/queues/x", r.stderr)
    assert.is_nil(sb.stats().by_method.PUT)
  end)

  it("renames queues with the example migration script", function()
    local r = sb.run { h.srcdir .. "/examples/scripts/rename-queues.lua", "--from", "^Re", "--to", "RE-" }
    assert.equal(0, r.status, r.stderr)
    assert.matches("Retention %-> RE%-tention", r.stdout)
    assert.matches("2 renamed, 0 failed", r.stdout)
    local names = {}
    for _, q in ipairs(sb.org().queues) do names[q.name] = true end
    assert.is_true(names["RE-tention"] and names["RE-turns"])
  end)

  it("says what the example migration script would rename under --dry-run, renaming nothing", function()
    local r = sb.run { h.srcdir .. "/examples/scripts/rename-queues.lua", "--from", "^Re", "--to", "RE-",
      "--dry-run" }
    assert.equal(0, r.status, r.stderr)
    assert.matches("would rename Retention %-> RE%-tention", r.stdout)
    assert.matches("2 would be renamed, 0 failed", r.stdout)
    assert.is_nil(r.stdout:find("2 renamed", 1, true))
    assert.is_nil(sb.stats().by_method.PUT)
  end)
end)

describe("queue-export", function()
  it("writes definitions that sync back without a single write", function()
    local sb, dir = h.sandbox(), h.tmpdir()
    local r = sb.run { "queue-export", "--out", dir .. "/out" }
    assert.equal(0, r.status, r.stderr)
    assert.matches(#ORG.queues .. " definitions written", r.stdout)   -- results are on stdout
    local billing = json.decode(h.read(dir .. "/out/billing.json"))
    assert.equal(ORG.queues[1].id, billing.queue_id)
    assert.equal("required", billing.wrap_up_policy)
    assert.equal(120, billing.acw_timeout)
    local before = sb.stats().by_method
    local sync = sb.run { "queue-sync", "--report", dir .. "/r.json", dir .. "/out" }
    local after = sb.stats().by_method
    sb.stop()
    assert.equal(0, sync.status, sync.stderr)
    for _, m in ipairs { "PUT", "POST", "PATCH" } do assert.equal(before[m] or 0, after[m] or 0, m) end
    h.rmtree(dir)
  end)

  it("exports only the queues whose names match --name", function()
    local sb, dir = h.sandbox(), h.tmpdir()
    local r = sb.run { "queue-export", "--name", "*s*", "--out", dir }
    sb.stop()
    assert.equal(0, r.status, r.stderr)
    local files = require("gcrun.sys").dir(dir)
    table.sort(files)
    assert.is_true(#files > 0 and #files < #ORG.queues)
    -- every queue with an "s" in its name (the service's filter ignores case), and no other
    assert.same({ "accounts.json", "claims.json", "escalations.json", "general-enquiries.json", "partners.json",
      "returns.json", "sales.json", "technical-support.json" }, files)
    h.rmtree(dir)
  end)
end)
