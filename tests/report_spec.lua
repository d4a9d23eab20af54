-- The pictures of the impact report and the readable renderings: the
-- timeline recorded from what the HTTP driver saw, the graph of what
-- changed where, well-formed SVG (xmllint), the same facts in the same
-- order in Markdown and HTML, a self-contained page, and a small one for a
-- large run.
local h = require "tests.helpers"
local http = require "gcrun.http"
local json = require "gcrun.json"
local report = require "gcrun.report"
local server = require "gcrun.server"
local sys = require "gcrun.sys"
local timeline = require "gcrun.timeline"
local view = require "gcrun.report_view"

local EXAMPLES = h.srcdir .. "/examples/queues"

-- Every <svg>...</svg> of a page.
local function svgs(page)
  local out = {}
  for s in page:gmatch("<svg.-</svg>") do out[#out + 1] = s end
  return out
end

-- xmllint's verdict on a piece of XML: true, or false and its complaint.
local function well_formed(xml)
  local dir = h.tmpdir()
  local path = h.write(dir .. "/p.svg", xml)
  local ok, _, code = os.execute("xmllint --noout " .. h.quote(path) .. " 2> " .. h.quote(dir .. "/err"))
  local err = h.read(dir .. "/err")
  h.rmtree(dir)
  return ok and code == 0, err
end

-- The elements a browser builds for a page: one per start tag (the parse
-- and style work of a large report grows with them).
local function elements(page)
  local n = 0
  for _ in page:gmatch("<%a") do n = n + 1 end
  return n
end

local function unescape(s)
  return (s:gsub("&(#?%w+);", { lt = "<", gt = ">", quot = '"', ["#39"] = "'", amp = "&" }))
end

-- The visible text of a page, in order (tags and the pictures left out).
local function page_text(page)
  local body = page:gsub("<svg.-</svg>", " "):gsub("<style>.-</style>", " "):gsub("<title>.-</title>", " ")
  return (unescape(body:gsub("<[^>]+>", "")):gsub("%s+", " "))
end

-- Every fact the view gives, in order: headings and every table cell.
local function facts(doc)
  local out = {}
  local function add(s)
    s = view.plain(s)
    if s ~= "" then out[#out + 1] = s end
  end
  for _, b in ipairs(view.build(doc)) do
    if b[1] == "h" then add(b[3]) end
    if b[1] == "table" then
      for _, r in ipairs(b[3]) do
        for i = 1, #b[2] do add(r[i]) end
      end
    end
  end
  return out
end

-- Each of `list` found in `text` after the one before it.
local function in_order(list, text)
  local pos = 1
  for _, f in ipairs(list) do
    local needle = f:gsub("%s+", " ")
    local s, e = text:find(needle, pos, true)
    if not s then return false, string.format("%q not found after position %d", needle, pos) end
    pos = e + 1
  end
  return true
end

-- What the timeline's bars say they hold, added up from their tooltips
-- ("0.00–0.50 s: 12 answered, 1 answered 429, 1 retries, mean answer 4 ms").
local function counts_in_titles(svg)
  local keys = { answered = "answered", ["answered 429"] = "throttled", ["answered 5xx"] = "server_error",
    ["no answer (dropped)"] = "dropped", retries = "retries" }
  local t = { answered = 0, throttled = 0, server_error = 0, dropped = 0, retries = 0 }
  for title in svg:gmatch('<rect class="hit"[^>]*><title>(.-)</title>') do
    local list = unescape(title):match(": (.*)$")
    for part in (list .. ", "):gmatch("(.-), ") do
      local n, what = part:match("^(%d+) (.+)$")
      if n and keys[what] then t[keys[what]] = t[keys[what]] + tonumber(n) end
    end
  end
  return t
end

describe("the run's timeline", function()
  it("counts every attempt by outcome, retries and waits, from the driver's log", function()
    local srv = server.listen { handler = "tests.servers.behave" }
    local c = http.client { base_url = srv:url(), backoff_base = 0.01, backoff_cap = 0.02 }
    local rec = timeline.start()
    local r1 = c:request { path = "/flaky", query = { key = "a", fail = 2, code = 503 } }
    local r2 = c:request { path = "/flaky", query = { key = "b", fail = 1, code = 429, retry_after = "0" } }
    local r3 = c:request { path = "/ratelimit", query = { allowed = 5, window = 30 } }
    srv:stop()
    assert.equal(3, #r1.attempt_log)
    assert.same({ 503, 503, 200 }, { r1.attempt_log[1].status, r1.attempt_log[2].status, r1.attempt_log[3].status })
    assert.is_true(r1.attempt_log[1].wait > 0 and r1.attempt_log[1].retry_after == nil)
    assert.equal(0, r2.attempt_log[1].retry_after)
    assert.equal(5, r3.attempt_log[1].ratelimit_allowed)
    assert.equal(1, r3.attempt_log[1].ratelimit_count)
    for _, r in ipairs { r1, r2, r3 } do timeline.record(r) end
    timeline.stop()
    local doc = rec:document()
    assert.same({ requests = 6, answered = 3, throttled = 1, server_error = 2, dropped = 0, retries = 3 },
      { requests = doc.totals.requests, answered = doc.totals.answered, throttled = doc.totals.throttled,
        server_error = doc.totals.server_error, dropped = doc.totals.dropped, retries = doc.totals.retries })
    assert.equal(2, doc.totals.waits.backoff.count)
    assert.is_nil(doc.totals.waits.retry_after)   -- Retry-After: 0 is no wait
    local sum = 0
    for _, o in ipairs(timeline.OUTCOMES) do
      for _, v in ipairs(doc.series[o]) do sum = sum + v end
    end
    assert.equal(6, sum)
    local left
    for _, v in ipairs(doc.series.budget_left) do if v ~= json.null then left = v end end
    assert.equal(4, left)
  end)

  it("notes dropped connections as attempts without an answer", function()
    local srv = server.listen { handler = "tests.servers.behave" }
    local c = http.client { base_url = srv:url(), backoff_base = 0.01, backoff_cap = 0.02 }
    local rec = timeline.start()
    local r = c:request { path = "/drop", query = { key = "d", times = 2 } }
    srv:stop()
    timeline.record(r)
    timeline.stop()
    local t = rec:document().totals
    assert.equal(r.attempts, t.requests)
    assert.equal(r.attempts - 1, t.dropped)
    assert.equal(1, t.answered)
  end)

  it("stays within its buckets and spans however long the run", function()
    local rec = timeline.start { origin = 0, max_buckets = 160, max_spans = 50 }
    timeline.stop()
    local n = 0
    for i = 1, 20000 do
      local t = i * 0.5                        -- 10,000 seconds of requests
      local status = (i % 10 == 0) and 429 or (i % 17 == 0) and 503 or 200
      rec:record { method = i % 3 == 0 and "PUT" or "GET", url = "http://x/api/v2/routing/queues/q",
        attempts = 1, status = status,
        attempt_log = { { start = t, finish = t + 0.1, status = status, held = (i % 7 == 0) and 0.2 or nil,
          ratelimit_allowed = 300, ratelimit_count = i % 300 } } }
      n = n + 1
      assert.is_true(rec.n <= 160)
    end
    rec:wait(5, 9, "lock")
    rec.stopped_at = 10001
    local doc = rec:document()
    assert.equal(n, doc.totals.requests)
    assert.is_true(doc.buckets <= 160 and doc.buckets * doc.bucket_seconds >= 10000)
    local sum, pacing = 0, 0
    for _, o in ipairs(timeline.OUTCOMES) do for _, v in ipairs(doc.series[o]) do sum = sum + v end end
    assert.equal(n, sum)
    for _, w in ipairs(doc.waits) do if w.reason == "pacing" then pacing = pacing + 1 end end
    assert.is_true(pacing <= 50)
    assert.equal(20000 // 7, doc.totals.waits.pacing.count)
    assert.equal(1, doc.totals.waits.lock.count)
    local least = math.huge
    for _, v in ipairs(doc.series.budget_left) do if v ~= json.null then least = math.min(least, v) end end
    assert.equal(1, least)
  end)

  it("sorts requests into the run's phases by what they were for", function()
    assert.equal("reads", timeline.kind("GET", "https://api/api/v2/routing/queues/1/members?pageSize=100"))
    assert.equal("queue_writes", timeline.kind("PUT", "https://api/api/v2/routing/queues/1"))
    assert.equal("queue_writes", timeline.kind("POST", "https://api/api/v2/routing/queues/1/members?delete=false"))
    assert.equal("skills", timeline.kind("PATCH", "https://api/api/v2/users/u/routingskills/bulk"))
    assert.equal("flows", timeline.kind("GET", "https://api/api/v2/flows/f/latestconfiguration"))
    assert.equal("flows", timeline.kind("POST", "http://127.0.0.1:1/api/v2/flows/actions/checkout?flow=f"))
    assert.equal("flows", timeline.kind("PUT", "http://127.0.0.1:1/tutorial/api/v2/flow/flows/f"))
  end)
end)

describe("the impact report of a faulted run", function()
  local dir, doc, stats, page

  setup(function()
    dir = h.tmpdir()
    -- 503s, dropped connections, 429s and flows locked by another user
    local sb = h.sandbox { faults = { ["503"] = 0.12, drop = 0.05, ["429"] = 0.08 }, flow_locks = 0.6, seed = 17 }
    local r = sb.run { "queue-sync", "--report", dir .. "/r.json", EXAMPLES }
    stats = sb.stats()
    sb.stop()
    assert.equal(0, r.status, r.stderr)
    doc = json.decode(h.read(dir .. "/r.json"))
    page = report.render(doc, "html")
  end)
  teardown(function() h.rmtree(dir) end)

  it("carries a timeline whose totals are the run's requests by outcome", function()
    local t = doc.timeline.totals
    local seen = 0
    for _, n in pairs(stats.by_method) do seen = seen + n end
    assert.equal(seen, doc.run.requests)
    assert.equal(doc.run.requests, t.requests)
    assert.equal(doc.run.retries, t.retries)
    assert.equal(doc.run.throttled, t.throttled)
    assert.equal(t.requests, t.answered + t.throttled + t.server_error + t.dropped)
    assert.is_true(t.throttled > 0 and t.server_error > 0 and t.retries > 0, json.encode(t))
    -- and by outcome, as the sandbox counted what it did
    assert.equal(stats.injected["503"] or 0, t.server_error)
    assert.equal(stats.injected.drop or 0, t.dropped)
    assert.equal(stats.throttled + (stats.injected["429"] or 0), t.throttled)
    for _, col in ipairs { "answered", "throttled", "server_error", "dropped", "retries" } do
      local sum = 0
      for _, v in ipairs(doc.timeline.series[col]) do sum = sum + v end
      assert.equal(t[col], sum, col)
    end
    local phases = {}
    for _, p in ipairs(doc.timeline.phases) do phases[#phases + 1] = p.name end
    assert.same({ "prepare", "queues", "agents", "flows" }, phases)   -- agents: their skills, once each
    assert.is_truthy(t.waits.lock, "no lock wait recorded: " .. json.encode(t.waits))
    local locks = 0
    for _, f in ipairs(doc.flows) do locks = locks + (f.lock_waits or 0) end
    assert.equal(locks, t.waits.lock.count)
  end)

  it("carries the graph of queues and the flows edited for them", function()
    local want = {}
    for _, f in ipairs(doc.flows) do
      if f.status ~= "unchanged" then
        for _, q in ipairs(f.queues) do want[#want + 1] = q .. ">" .. f.id end
      end
    end
    local got = {}
    for _, e in ipairs(doc.graph.edges) do got[#got + 1] = e.queue .. ">" .. e.flow end
    table.sort(want)
    table.sort(got)
    assert.is_true(#got > 0)
    assert.same(want, got)
  end)

  it("draws well-formed SVG with the same totals and edges", function()
    local pics = svgs(page)
    assert.equal(2, #pics)
    for _, s in ipairs(pics) do
      local ok, err = well_formed(s)
      assert.is_true(ok, err)
      assert.matches('role="img"', s)
      assert.matches("<title id=", s)
      assert.matches("<desc id=", s)
    end
    local drawn = counts_in_titles(pics[1])
    local t = doc.timeline.totals
    assert.same({ answered = t.answered, throttled = t.throttled, server_error = t.server_error,
      dropped = t.dropped, retries = t.retries }, drawn)
    local edges = {}
    for e in pics[2]:gmatch('<path class="edge[^"]*"[^>]*><title>(.-)</title>') do edges[#edges + 1] = unescape(e) end
    local names = {}
    for _, f in ipairs(doc.graph.flows) do names[f.id] = f.name or f.id end
    local want = {}
    for _, e in ipairs(doc.graph.edges) do want[#want + 1] = "queue " .. e.queue .. " → flow " .. names[e.flow] end
    table.sort(edges)
    table.sort(want)
    assert.same(want, edges)
    for _, f in ipairs(doc.graph.flows) do
      if (f.lock_waits or 0) > 0 then assert.matches(f.lock_waits .. " lock wait", pics[2], 1, true) end
    end
  end)

  it("is a self-contained page: no script, nothing fetched", function()
    assert.matches("^<!DOCTYPE html>", page)
    for _, bad in ipairs { "<script", "<link", "<img", "<iframe", "<object", "<embed", "src=", "href=", "url(",
      "@import", "xlink" } do
      assert.is_nil(page:lower():find(bad, 1, true), bad)
    end
    assert.is_nil(page:find('=%s*"[^"]*://'), "an attribute holds a URL")
    assert.matches("prefers-color-scheme:dark", page, 1, true)
    assert.matches("@media print", page, 1, true)
  end)

  it("says in Markdown and HTML the same facts in the same order, with names and ids", function()
    local md = report.render(doc, "md")
    local list = facts(doc)
    local ok, err = in_order(list, page_text(page))
    assert.is_true(ok, "HTML: " .. tostring(err))
    ok, err = in_order(list, (md:gsub("\\|", "|"):gsub("`", ""):gsub("%*%*", "")))
    assert.is_true(ok, "Markdown: " .. tostring(err))
    local billing = doc.changes[1]
    assert.equal("Billing & Payments", billing.queue_name)
    -- member ids and names, the definition file, ring numbers changed, skills old to new
    for _, text in ipairs { page_text(page), md } do
      assert.matches(billing.file, text, 1, true)
      for _, id in ipairs(billing.members_added) do
        assert.matches(id, text, 1, true)
        assert.matches(billing.names[id], text, 1, true)
      end
      for _, id in ipairs(billing.members_removed) do assert.matches(billing.names[id], text, 1, true) end
      assert.matches("added, ring 2", text, 1, true)
      assert.matches("none → 5", text, 1, true)
      assert.matches("ring 1 → ring 2", text, 1, true)
    end
    assert.matches("The HTML report draws this timeline", md, 1, true)
  end)
end)

describe("the report of a large run", function()
  -- what a 1,000-queue run's report holds, at its most: every queue
  -- updated with fields, members, ring numbers and skills, 100 flows of 10
  -- queues, and a full timeline
  local function big_run()
    local rec = timeline.start { origin = 0, max_spans = 300 }
    timeline.stop()
    for i = 1, 30000 do
      local t = i * 0.03
      local status = (i % 13 == 0) and 429 or (i % 29 == 0) and 503 or 200
      rec:record { method = "GET", url = "https://x/api/v2/routing/queues/q", attempts = 1, status = status,
        attempt_log = { { start = t, finish = t + 0.05, status = status, wait = (i % 13 == 0) and 1 or nil,
          retry_after = 1, held = (i % 5 == 0) and 0.3 or nil, ratelimit_allowed = 300, ratelimit_count = i % 300 } } }
      if i % 40 == 0 then rec:wait(t, t + 0.5, "lock") end
    end
    rec.stopped_at = 905
    local queues, flows = {}, {}
    local function uuid(kind, i) return string.format("%08x-%04x-4000-8000-%012d", i, kind, i) end
    for i = 1, 1000 do
      local e = { def = {}, file = string.format("/srv/routing/queues/queue-%04d.json", i), queue_id = uuid(1, i),
        queue_name = string.format("Customer Care Queue %04d (renamed)", i), status = "updated",
        timestamp = "2026-12-01T04:00:00.000Z", corrections = { { rule = "unknown-skill", source = "plan",
          change = "removed unknown skill 'x' (level 3)" } }, flows = {}, skills_assigned = 3, members_assigned = 5,
        fields_changed = { { field = "name", before = "Customer Care Queue " .. i,
          after = "Customer Care Queue (renamed)" },
          { field = "description", before = "old", after = "new description of the queue" },
          { field = "acwSettings", before = { timeoutMs = 120000, wrapupPrompt = "MANDATORY_TIMEOUT" },
            after = { timeoutMs = 180000, wrapupPrompt = "MANDATORY_TIMEOUT" } } },
        members_added = {}, members_removed = {}, ring_changes = {}, skill_assignments = {}, names = {},
        counters = { requests = 20, retries = 1, throttled = 1 } }
      for j = 1, 5 do
        local u = uuid(2, i * 10 + j)
        e.names[u] = "Agent Firstname Lastname " .. j
        if j <= 3 then e.members_added[#e.members_added + 1] = u else e.members_removed[#e.members_removed + 1] = u end
        if j <= 2 then e.ring_changes[#e.ring_changes + 1] = { member = u, before = 1, after = 2 } end
        local skills = {}
        for k = 1, 3 do
          local s = uuid(3, k)
          e.names[s] = "Skill " .. k
          skills[k] = { id = s, level = 4, before = 2 }
        end
        if j <= 3 then e.skill_assignments[#e.skill_assignments + 1] = { user = u, name = e.names[u], skills = skills } end
      end
      queues[i] = e
    end
    for f = 1, 100 do
      local flow = { id = uuid(4, f), name = "Inbound flow " .. f, status = "updated", old_version = 3,
        new_version = 4, queues = {}, changes = {}, lock_waits = f % 3, attempts = 1, conflicts = 0,
        counters = { requests = 8, retries = 0, throttled = 0 } }
      for q = 1, 10 do
        local e = queues[(f - 1) * 10 + q]
        flow.queues[q] = e.queue_id
        flow.changes[q] = { node = "n" .. q, queue = e.queue_id, field = "queueName", before = "a", after = "b" }
        e.flows[1] = flow
        e.flow_node_updated = true
      end
      flows[f] = flow
    end
    return { started_at = sys.time() - 905, finished_at = sys.time(), dialect = "platform", version = "test",
      target = "https://api.mypurecloud.ie", queues = queues, flows = flows, skipped = {}, status = "completed",
      timeline = rec }
  end

  it("stays under 2 MB in HTML, with well-formed pictures", function()
    local doc = report.document(big_run())
    local page = report.render(doc, "html")
    assert.is_true(#page < 2000000, string.format("%d bytes", #page))
    local pics = svgs(page)
    assert.equal(2, #pics)
    for _, s in ipairs(pics) do assert.is_true(well_formed(s)) end
    assert.equal(30000, counts_in_titles(pics[1]).answered + counts_in_titles(pics[1]).throttled
      + counts_in_titles(pics[1]).server_error)
    io.stderr:write(string.format("# report of 1,000 queues: HTML %d bytes, %d elements, Markdown %d bytes\n",
      #page, elements(page), #report.render(doc, "md")))
  end)

  -- the browser's time for this page went mostly to building its
  -- elements: 93,000 with a table per queue took a 1,000-queue report
  -- about a second to load in Chromium (README, The impact report)
  it("is made of few elements, yet says every fact in order, with marks for added and removed", function()
    local doc = report.document(big_run())
    local page = report.render(doc, "html")
    local n = elements(page)
    assert.is_true(n < 40000, string.format("%d elements", n))
    local ok, err = in_order(facts(doc), page_text(page))
    assert.is_true(ok, tostring(err))
    local c = doc.changes[1]
    local added, removed = c.members_added[1], c.members_removed[1]
    local text = page_text(page)
    assert.matches(c.names[added] .. " (" .. added .. "): + added, ring 2; Skill 1 2 → 4; Skill 2 2 → 4", text, 1,
      true)
    assert.matches(c.names[removed] .. " (" .. removed .. "): − removed", text, 1, true)
    assert.matches("acwSettings.timeoutMs: 120000 → 180000", text, 1, true)
    -- the queues' summary table is cut into chunks laid out when scrolled to
    local _, chunks = page:gsub('<div class="cv"><table><tr><th>Queue<th>', "")
    assert.equal(10, chunks)
  end)
end)

describe("the report's names and graph", function()
  it("names the people and skills a queue's changes mention, with each skill's level before", function()
    local entry = {
      members_added = { "u1" }, members_removed = { "u2" }, ring_changes = { { member = "u3", before = 1, after = 2 } },
      skill_assignments = { { user = "u1", name = "Ada", skills = { { id = "s1", level = 4 },
        { id = "s2", level = 3 } } } },
      before = { members = { { id = "u2", name = "Bob" }, { id = "u3", name = "Cy" } },
        agents = { u1 = { name = "Ada", skills = { s1 = 2.0 } } } },
      current = { members = { { id = "u1" }, { id = "u3", name = "Cy" } }, agents = { u1 = { name = "Ada",
        skills = { s1 = 4, s2 = 3 } }, u9 = { name = "Not mentioned", skills = {} } } },
    }
    require("gcrun.report_names").note(entry, { s1 = "Billing", s2 = "English", s9 = "Unused" })
    assert.same({ u1 = "Ada", u2 = "Bob", u3 = "Cy", s1 = "Billing", s2 = "English" }, entry.names)
    assert.equal("integer", math.type(entry.skill_assignments[1].skills[1].before))
    assert.equal(2, entry.skill_assignments[1].skills[1].before)
    assert.is_nil(entry.skill_assignments[1].skills[2].before)
    assert.is_nil(entry.before)
  end)

  it("has an edge per queue of every flow not left unchanged, and the changed queues", function()
    local graph = require("gcrun.report_graph").of(
      { { queue_id = "q1", queue_name = "One", status = "updated" },
        { queue_id = "q2", queue_name = "Two", status = "unchanged" },
        { queue_id = "q3", queue_name = "Three", status = "failed" },
        { queue_id = "q4", queue_name = "Four", status = "unchanged" } },
      { { id = "f1", status = "updated", queues = { "q1", "q2" }, lock_waits = 2, old_version = 1, new_version = 2 },
        { id = "f2", status = "unchanged", queues = { "q4" } },
        { id = "f3", status = "failed", queues = { "q1" } } })
    assert.same({ { queue = "q1", flow = "f1" }, { queue = "q2", flow = "f1" }, { queue = "q1", flow = "f3" } },
      graph.edges)
    local ids = {}
    for _, q in ipairs(graph.queues) do ids[#ids + 1] = q.id end
    assert.same({ "q1", "q2" }, ids)
    assert.equal(2, #graph.flows)
    assert.equal(2, graph.flows[1].lock_waits)
  end)
end)
