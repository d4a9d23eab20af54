-- Interrupts: SIGINT, SIGTERM, SIGHUP and SIGQUIT at seeded random
-- moments of a run, and while a flow's checkout, save or publish is in
-- flight, leave no flow locked and a valid report with status
-- "interrupted" that agrees with the org; a kill -9 leaves what it leaves,
-- and a rerun converges all the same.
local h = require "tests.helpers"
local json = require "gcrun.json"

local function env_prefix(sb)
  local unset, set = {}, {}
  for k, v in pairs(sb.env()) do
    if v then set[#set + 1] = k .. "=" .. h.quote(v) else unset[#unset + 1] = "-u " .. k end
  end
  table.sort(unset)
  table.sort(set)
  -- SIGHUP at its default, as a login session has it (a test run under
  -- nohup would otherwise pass on an ignored SIGHUP, which gcrun keeps)
  return "env --default-signal=HUP " .. table.concat(unset, " ") .. " " .. table.concat(set, " ")
end

-- Start queue-sync, send `signal` `delay` seconds after it printed its
-- target (its signal handlers are in place by then: a background job of
-- sh starts with SIGINT ignored, so an earlier signal would be lost on a
-- busy machine), return its exit status.
local function interrupted_run(sb, dir, defs, signal, delay)
  os.remove(dir .. "/status")
  local cmd = string.format("%s %s queue-sync --base-url %s --report %s/r.json %s >%s/out 2>&1 & pid=$!; " ..
    "n=0; until grep -q '^target:' %s/out || [ $n -ge 500 ]; do sleep 0.01; n=$((n+1)); done; " ..
    "sleep %.2f; kill -%s $pid; wait $pid; echo $? >%s/status", env_prefix(sb), h.quote(h.bin), sb.url,
    h.quote(dir), h.quote(defs), h.quote(dir), h.quote(dir), delay, signal, h.quote(dir))
  os.execute(cmd)
  return tonumber(h.read(dir .. "/status")), h.read(dir .. "/out")
end

-- Start queue-sync in the background; the shell that waits for it writes
-- its exit status.
local function start_run(sb, dir, defs, args)
  for _, f in ipairs { "status", "pid", "r.json" } do os.remove(dir .. "/" .. f) end
  local words = { "--base-url", sb.url }
  for _, a in ipairs(args or {}) do words[#words + 1] = a end
  for i, w in ipairs(words) do words[i] = h.quote(w) end
  h.write(dir .. "/run.sh", string.format("%s %s queue-sync %s --report %s %s >%s 2>&1 &\necho $! >%s\n" ..
    "wait $!\necho $? >%s\n", env_prefix(sb), h.quote(h.bin), table.concat(words, " "),
    h.quote(dir .. "/r.json"), h.quote(defs), h.quote(dir .. "/out"), h.quote(dir .. "/pid"),
    h.quote(dir .. "/status")))
  os.execute("sh " .. h.quote(dir .. "/run.sh") .. " >/dev/null 2>&1 &")
end

local function wait_for(path, seconds)
  local http = require "gcrun.http"
  local sys = require "gcrun.sys"
  local deadline = sys.clock() + seconds
  while sys.clock() < deadline do
    local f = io.open(path)
    if f then
      local s = f:read("a")
      f:close()
      if s:match("\n$") then return s end
    end
    http.sleep(0.02)
  end
  error("no " .. path .. " after " .. seconds .. " s")
end

-- Poll the sandbox's org (its control routes answer without the latency)
-- until pred(org) holds; return that org.
local function watch(sb, pred, seconds)
  local http = require "gcrun.http"
  local sys = require "gcrun.sys"
  local deadline = sys.clock() + seconds
  while sys.clock() < deadline do
    local org = sb.org()
    if pred(org) then return org end
    http.sleep(0.02)
  end
  error("the sandbox never reached the awaited state in " .. seconds .. " s")
end

-- What the sandbox holds after the run (org; before: as it began) and
-- what the report says agree: no flow locked, every version published or
-- saved by the run in the report, every flow named.
local function check_agreement(before, org, report, out, where)
  for _, f in ipairs(org.flows) do assert.is_nil(f.lockedClient, where .. ": " .. f.name .. " left locked") end
  local by_id, was = {}, {}
  for _, f in ipairs(report.flows) do
    assert.is_string(f.name, where .. ": flow " .. f.id .. " has no name")
    by_id[f.id] = f
  end
  for _, f in ipairs(before.flows) do was[f.id] = f end
  local published = 0
  for _, f in ipairs(org.flows) do
    local r = by_id[f.id]
    if f.publishedVersion ~= was[f.id].publishedVersion then
      published = published + 1
      assert.is_table(r, where .. ": " .. f.name .. " published but not in the report")
      assert.equal("updated", r.status, where .. ": " .. f.name)
      assert.equal(f.publishedVersion, r.new_version, where .. ": " .. f.name)
    elseif f.configuration.version ~= was[f.id].configuration.version then
      assert.is_table(r, where .. ": " .. f.name .. " saved but not in the report")
      assert.equal(f.configuration.version, r.saved_version, where .. ": " .. f.name)
    elseif r then
      assert.is_not.equal("updated", r.status, where .. ": " .. f.name)
    end
  end
  assert.equal(published, report.run.flows_updated, where)
  assert.matches("flows updated%s+" .. published .. "\n", out, nil, false)
  assert.same({}, report.run.flows_left_locked, where)
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

  it("leaves no flow locked and a report that agrees with the org, in 12 seeded trials of four signals", function()
    math.randomseed(20261128)
    local signals, statuses = { "INT", "TERM", "HUP", "QUIT" }, { INT = 130, TERM = 143, HUP = 129, QUIT = 131 }
    for trial = 1, 12 do
      local signal = signals[trial % 4 + 1]
      local delay = 0.2 + math.random() * 1.2
      local sb = h.sandbox { org = org_path, latency = 60, state = dir .. "/state.json" }
      local before = sb.org()
      local status, out = interrupted_run(sb, dir, defs, signal, delay)
      local state = sb.org()
      sb.stop()
      local where = string.format("trial %d (SIG%s after %.2f s)", trial, signal, delay)
      assert.equal(statuses[signal], status, string.format("%s: exit %s\n%s", where, tostring(status), out))
      local report = json.decode(h.read(dir .. "/r.json"))
      assert.equal("interrupted", report.run.status, where)
      assert.matches("interrupted", out)
      check_agreement(before, state, report, out, where)
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

-- A signal while a flow's checkout, save or publish is in flight: the
-- service applied it, the answer never came. Every lock is released and
-- every acknowledged write is in the report (issue 12 items 1-2, issue 15
-- item 4). The sandbox answers after 400 ms, so the signal, sent 100 ms
-- after the sandbox applied the write, lands while its answer is on the way.
describe("queue-sync interrupted during a flow edit", function()
  local dir, org_path, defs
  local STATUS = { INT = 130, TERM = 143, HUP = 129, QUIT = 131 }

  setup(function()
    dir = h.tmpdir()
    org_path = h.org_file(dir, { users = 8, skills = 2, queues = 4, flows = 4, queues_per_flow = 1 })
    local org = json.decode(h.read(org_path))
    os.execute("mkdir -p " .. h.quote(dir .. "/defs"))
    for i = 1, 4 do
      local q = org.queues[i]
      h.write(string.format("%s/defs/q%d.json", dir, i), json.encode { queue_id = q.id, name = q.name .. " (renamed)",
        members = { [org.users[i].id] = 1 } })
    end
    defs = dir .. "/defs"
  end)
  teardown(function() h.rmtree(dir) end)

  -- Run until `moment(org)` says the write is applied, send the signal,
  -- and check what is left.
  local function trial(signal, what, moment, args, check)
    local sb = h.sandbox { org = org_path, latency = 400 }
    local before = sb.org()
    start_run(sb, dir, defs, args and args(sb))
    local ok, err = pcall(function()
      watch(sb, moment, 20)
      require("gcrun.http").sleep(0.1)
      os.execute("kill -" .. signal .. " " .. wait_for(dir .. "/pid", 1):match("%d+"))
      local status = tonumber(wait_for(dir .. "/status", 20))
      local org, out = sb.org(), h.read(dir .. "/out")
      local where = string.format("SIG%s during %s", signal, what)
      assert.equal(STATUS[signal], status, where .. ": " .. out)
      local report = json.decode(h.read(dir .. "/r.json"))
      assert.equal("interrupted", report.run.status, where)
      ;(check or check_agreement)(before, org, report, out, where)
      return { report = report, org = org }
    end)
    sb.stop()
    if not ok then error(err, 0) end
    return err.report, err.org
  end

  local function locked(org)
    for _, f in ipairs(org.flows) do if f.lockedClient then return true end end
  end
  local function saved(org)
    for _, f in ipairs(org.flows) do if f.configuration.version > 1 then return true end end
  end
  local function published(org)
    for _, f in ipairs(org.flows) do if f.publishedVersion > 1 then return true end end
  end

  for _, signal in ipairs { "INT", "TERM", "HUP", "QUIT" } do
    it("releases a flow whose checkout was in flight at SIG" .. signal, function()
      trial(signal, "a checkout", locked)
    end)
  end

  it("reports a version saved at SIGTERM, before its publish, as saved and not published", function()
    local report, org = trial("TERM", "a save", saved)
    local seen = false
    for _, f in ipairs(org.flows) do
      if f.configuration.version > 1 and f.publishedVersion == 1 then
        seen = true
        for _, r in ipairs(report.flows) do
          if r.id == f.id then assert.equal("interrupted", r.status); assert.is_true(#r.nodes_changed > 0) end
        end
      end
    end
    assert.is_true(seen, "no flow was caught between its save and its publish")
  end)

  it("reports a publish in flight at SIGINT as the update it is, with the flow's name", function()
    local report, org = trial("INT", "a publish", published)
    local names = {}
    for _, f in ipairs(org.flows) do if f.publishedVersion > 1 then names[f.name] = true end end
    for _, f in ipairs(report.flows) do
      if names[f.name] then assert.equal("updated", f.status) end
    end
    assert.is_true(report.run.flows_updated >= 1)
  end)

  it("reports a tutorial-dialect flow PUT in flight at SIGINT as the update it is", function()
    local function tutorial(sb)
      local args = { "--api", "tutorial", "--base-url", sb.url .. "/tutorial" }
      for _, f in ipairs(sb.org().flows) do args[#args + 1] = "--flow"; args[#args + 1] = f.id end
      return args
    end
    -- no locks and no publish in this dialect: a flow's new version is its update
    local function agree(before, org, report, _, where)
      local by_id, was, changed = {}, {}, 0
      for _, f in ipairs(report.flows) do
        assert.is_string(f.name, where .. ": flow " .. f.id .. " has no name")
        by_id[f.id] = f
      end
      for _, f in ipairs(before.flows) do was[f.id] = f.configuration.version end
      for _, f in ipairs(org.flows) do
        if f.configuration.version ~= was[f.id] then
          changed = changed + 1
          assert.equal("updated", by_id[f.id].status, where .. ": " .. f.name)
          assert.equal(f.configuration.version, by_id[f.id].new_version, where .. ": " .. f.name)
        end
      end
      assert.is_true(changed >= 1, where)
      assert.equal(changed, report.run.flows_updated, where)
    end
    trial("INT", "a tutorial flow PUT", saved, tutorial, agree)
  end)
end)
