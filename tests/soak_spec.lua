-- Soak: many queues under every fault at once. Every queue ends as
-- defined, every concurrent editor's change survives, no flow stays
-- locked, the report counts the retries, and a second run changes nothing.
-- GCRUN_SOAK_QUEUES sets the size (make check: 100; make soak: 1000).
local h = require "tests.helpers"
local json = require "gcrun.json"

local N = tonumber(os.getenv("GCRUN_SOAK_QUEUES") or 100)

local function writes(stats)
  local m = stats.by_method
  return (m.PUT or 0) + (m.POST or 0) + (m.PATCH or 0) + (m.DELETE or 0)
end

describe("soak", function()
  it(string.format("converges over %d queues with 503, drops, 429s, a concurrent editor and locks", N), function()
    local dir = h.tmpdir()
    local org_path = h.org_file(dir, { users = math.max(200, 2 * N), skills = 30, queues = N,
      flows = math.max(1, N // 10), queues_per_flow = 10, seed = 7 })
    local org = json.decode(h.read(org_path))
    os.execute("mkdir -p " .. h.quote(dir .. "/defs"))
    for i = 1, N do
      local q = org.queues[i]
      local members, skills = {}, {}
      for j = 1, 5 do members[org.users[(i * 7 + j * 13) % #org.users + 1].id] = (j % 6) + 1 end
      for j = 1, 3 do skills[org.skills[(i + j * 5) % #org.skills + 1].id] = (j % 5) + 1 end
      h.write(string.format("%s/defs/q%05d.json", dir, i), json.encode { queue_id = q.id, name = q.name .. " (soaked)",
        description = "soak", members = members, skills = skills, acw_timeout = 60 + i % 100 })
    end
    local state = dir .. "/state.json"
    -- flow_locks 0.5: each of the 10 checkouts meets another user's lock at
    -- that rate; at 0.2 a run met none about one time in nine (0.8^10), and
    -- the check below that locks were met failed by chance
    local sb = h.sandbox { org = org_path, state = state, faults = { ["503"] = 0.1, drop = 0.05, ["429"] = 0.05 },
      flow_editor = 0.3, flow_locks = 0.5, seed = 11 }
    local r = sb.run { "queue-sync", "--concurrency", "8", "--report", dir .. "/r.json", dir .. "/defs" }
    local stats, final = sb.stats(), sb.org()
    sb.stop()
    assert.equal(0, r.status, r.stderr:sub(-3000))

    local report = json.decode(h.read(dir .. "/r.json"))
    for _, c in ipairs(report.changes) do assert.equal("updated", c.status, c.queue_name .. ": " .. tostring(c.error)) end
    for _, f in ipairs(report.flows) do assert.equal("updated", f.status, tostring(f.error)) end
    -- every 503 and injected 429 the service sent was answered by a retry the report counts
    local injected = (stats.injected["503"] or 0) + (stats.injected["429"] or 0)
    local conflicts = 0
    for _, f in ipairs(report.flows) do conflicts = conflicts + (f.conflicts or 0) end
    assert.is_true(report.run.retries + conflicts >= injected,
      string.format("%d retries and %d conflicts for %d injected faults", report.run.retries, conflicts, injected))
    local seen = 0
    for _, n in pairs(stats.by_method) do seen = seen + n end
    assert.equal(seen, report.run.requests)
    assert.equal(stats.throttled + (stats.injected["429"] or 0), report.run.throttled)

    for _, f in ipairs(final.flows) do
      assert.is_nil(f.lockedClient, f.name .. " left locked")
      local survived = 0
      for _, n in ipairs(f.configuration.nodes) do
        if n.type ~= "Queue" then survived = survived + (n.config.editorEdits or 0) end
      end
      assert.equal(f._editor_edits or 0, survived, "an editor's change to " .. f.name .. " was lost")
    end
    assert.is_true(stats.editor_edits > 0 and stats.lock_conflicts > 0)
    -- the figures, as TAP diagnostics
    io.stderr:write(string.format("# soak: %d queues, %d flows, %d requests in %.1f s; injected 503 %d, 429 %d, "
      .. "drop %d; %d retries, %d flow conflicts, %d editor edits kept, %d lock conflicts\n",
      #report.changes, #report.flows, stats.requests, report.run.duration_seconds, stats.injected["503"] or 0,
      stats.injected["429"] or 0, stats.injected.drop or 0, report.run.retries, conflicts, stats.editor_edits,
      stats.lock_conflicts))

    local calm = h.sandbox { org = org_path, state = state }
    local again = calm.run { "queue-sync", "--concurrency", "8", "--report", dir .. "/r2.json", dir .. "/defs" }
    local w = writes(calm.stats())
    calm.stop()
    assert.equal(0, again.status, again.stderr:sub(-2000))
    assert.equal(0, w)
    h.rmtree(dir)
  end)
end)
