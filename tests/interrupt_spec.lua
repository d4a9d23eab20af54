-- Interrupts: SIGINT and SIGTERM at seeded random moments of a run leave
-- no flow locked and a valid report with status "interrupted"; a kill -9
-- leaves what it leaves, and a rerun converges all the same.
local h = require "tests.helpers"
local json = require "gcrun.json"

local function env_prefix(sb)
  local unset, set = {}, {}
  for k, v in pairs(sb.env()) do
    if v then set[#set + 1] = k .. "=" .. h.quote(v) else unset[#unset + 1] = "-u " .. k end
  end
  table.sort(unset)
  table.sort(set)
  return "env " .. table.concat(unset, " ") .. " " .. table.concat(set, " ")
end

-- Start queue-sync, send `signal` after `delay` seconds, return its exit status.
local function interrupted_run(sb, dir, defs, signal, delay)
  os.remove(dir .. "/status")
  local cmd = string.format("%s %s queue-sync --base-url %s --report %s/r.json %s >%s/out 2>&1 & pid=$!; " ..
    "sleep %.2f; kill -%s $pid; wait $pid; echo $? >%s/status", env_prefix(sb), h.quote(h.bin), sb.url,
    h.quote(dir), h.quote(defs), h.quote(dir), delay, signal, h.quote(dir))
  os.execute(cmd)
  return tonumber(h.read(dir .. "/status")), h.read(dir .. "/out")
end

describe("queue-sync interrupted", function()
  local dir, org_path, defs

  setup(function()
    dir = h.tmpdir()
    org_path = h.org_file(dir, { users = 80, skills = 10, queues = 40, flows = 8, queues_per_flow = 5 })
    local org = json.decode(h.read(org_path))
    os.execute("mkdir -p " .. h.quote(dir .. "/defs"))
    for i = 1, 40 do
      local q = org.queues[i]
      h.write(string.format("%s/defs/q%03d.json", dir, i), json.encode { queue_id = q.id, name = q.name .. " (renamed)",
        members = { [org.users[i].id] = 2, [org.users[i + 20].id] = 1 }, skills = { [org.skills[i % 10 + 1].id] = 3 } })
    end
    defs = dir .. "/defs"
  end)
  teardown(function() h.rmtree(dir) end)

  it("leaves no flow locked and an interrupted report, in 10 seeded trials of SIGINT and SIGTERM", function()
    math.randomseed(20261128)
    for trial = 1, 10 do
      local signal = trial % 2 == 1 and "INT" or "TERM"
      local delay = 0.2 + math.random() * 1.2
      local sb = h.sandbox { org = org_path, latency = 60, state = dir .. "/state.json" }
      local status, out = interrupted_run(sb, dir, defs, signal, delay)
      local state = sb.org()
      sb.stop()
      local where = string.format("trial %d (SIG%s after %.2f s)", trial, signal, delay)
      assert.equal(signal == "INT" and 130 or 143, status, where .. ": " .. out)
      local report = json.decode(h.read(dir .. "/r.json"))
      assert.equal("interrupted", report.run.status, where)
      assert.matches("interrupted", out)
      for _, f in ipairs(state.flows) do assert.is_nil(f.lockedClient, where .. ": " .. f.name .. " left locked") end
    end
    local sb = h.sandbox { org = org_path, state = dir .. "/state.json" }
    local r = sb.run { "queue-sync", "--report", dir .. "/r.json", defs }
    local before = sb.stats().by_method
    local again = sb.run { "queue-sync", "--report", dir .. "/r2.json", defs }
    local after = sb.stats().by_method
    sb.stop()
    assert.equal(0, r.status, r.stderr)
    assert.equal(0, again.status)
    for _, m in ipairs { "PUT", "POST", "PATCH" } do assert.equal(before[m] or 0, after[m] or 0, m) end
  end)

  it("stops at once on SIGINT even while an answer is slow in coming", function()
    -- every answer takes 4 s: the token arrives at 4 s, the signal at 5 s
    -- finds the first API reads in flight until 8 s; the run must not wait
    local sb = h.sandbox { org = org_path, latency = 4000, state = dir .. "/slow.json" }
    local t0 = require("gcrun.sys").clock()
    local status = interrupted_run(sb, dir, defs, "INT", 5)
    local took = require("gcrun.sys").clock() - t0
    sb.stop()
    assert.equal(130, status)
    assert.is_true(took < 7, string.format("took %.1f s to stop with 4 s answers in flight", took))
    assert.equal("interrupted", json.decode(h.read(dir .. "/r.json")).run.status)
  end)

  it("converges after a kill -9, releasing what the killed run held", function()
    local state = dir .. "/state9.json"
    for _, delay in ipairs { 0.3, 0.9 } do
      os.remove(dir .. "/r.json")
      local sb = h.sandbox { org = org_path, latency = 60, state = state }
      local status = interrupted_run(sb, dir, defs, "KILL", delay)
      sb.stop()
      assert.equal(137, status)
      local f = io.open(dir .. "/r.json")          -- a report is whole or absent, never half
      if f then
        assert.is_table(json.decode(f:read("a")))
        f:close()
      end
    end
    local sb = h.sandbox { org = org_path, state = state }
    local r = sb.run { "queue-sync", "--report", dir .. "/r.json", defs }
    local final = sb.org()
    sb.stop()
    assert.equal(0, r.status, r.stderr)
    for _, f in ipairs(final.flows) do assert.is_nil(f.lockedClient, f.name .. " left locked") end
    local report = json.decode(h.read(dir .. "/r.json"))
    assert.equal("completed", report.run.status)
  end)
end)
