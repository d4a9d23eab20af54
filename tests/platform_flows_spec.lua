-- The flow lock protocol (gcrun.api.platform_flows) against a scripted
-- transport: the cases a live sandbox cannot be made to show on demand
-- (a checkin that gets no answer, a lock that turns out to be another
-- user's), and what the result and the report say about them.
local errors = require "gcrun.errors"
local platform = require "gcrun.api.platform"
local report = require "gcrun.report"

local FLOW = "f1"

local function answer(status, body, method)
  return { status = status, method = method, url = "https://api.test", attempts = 1, body = body,
    json = function(self) return self.body end }
end

local function interrupted(what)
  return errors.new("interrupted", what .. ": interrupted")
end

-- A transport answering from `script`: key "METHOD path" -> {status, body}
-- | {err=} | function(req, n) returning one of those (n: how many times
-- this key was asked). Returns the api and the list of requests sent.
local function scripted(script)
  local sent, asked = {}, {}
  local safe = {}
  function safe.request(_, req)
    local method = req.method or "GET"
    local key = method .. " " .. req.path:gsub("{id}", req.params and req.params.id or "")
    sent[#sent + 1] = { key = key, cleanup = req.cleanup or false }
    asked[key] = (asked[key] or 0) + 1
    local a = script[key]
    if type(a) == "function" then a = a(req, asked[key]) end
    assert(a, "unexpected request " .. key)
    if a.err then return nil, a.err end
    return answer(a[1], a[2], method)
  end
  return platform.new({ safe = safe }):scope(), sent
end

local function config(version)
  return { name = "Main line", version = version, nodes = {
    { id = "n1", type = "Queue", config = { queueId = "q1", queueName = "Old name", timeoutSeconds = 300 } } } }
end

local QUEUES = { { id = "q1", name = "New name" } }

local function keys(sent)
  local out = {}
  for _, s in ipairs(sent) do out[#out + 1] = s.key .. (s.cleanup and " (cleanup)" or "") end
  return out
end

describe("the flow lock protocol", function()
  it("checks in a flow whose checkout was cut short, and names the flow", function()
    local api, sent = scripted {
      ["GET /api/v2/flows/f1/latestconfiguration"] = { 200, config(1) },
      ["POST /api/v2/flows/actions/checkout"] = { err = interrupted("POST checkout") },
      ["POST /api/v2/flows/actions/checkin"] = { 200, {} },
    }
    local r = api:edit_flow(FLOW, QUEUES)
    assert.same({ "GET /api/v2/flows/f1/latestconfiguration", "POST /api/v2/flows/actions/checkout",
      "POST /api/v2/flows/actions/checkin (cleanup)" }, keys(sent))
    assert.equal("interrupted", r.status)
    assert.equal("Main line", r.name)
    assert.is_nil(r.checkin_failed)
    assert.is_nil(r.left_locked)
    assert.same({}, r.changes)
  end)

  it("sends no checkin after a checkout the service refused", function()
    local api, sent = scripted {
      ["GET /api/v2/flows/f1/latestconfiguration"] = { 200, config(1) },
      ["POST /api/v2/flows/actions/checkout"] = { 403, { message = "missing architect:flow:edit" } },
    }
    local r = api:edit_flow(FLOW, QUEUES)
    assert.equal(2, #sent)
    assert.equal("failed", r.status)
    assert.matches("missing architect:flow:edit", r.error)
  end)

  it("takes a checkin refused because another user holds the flow as 'not ours'", function()
    local api = scripted {
      ["GET /api/v2/flows/f1/latestconfiguration"] = { 200, config(1) },
      ["POST /api/v2/flows/actions/checkout"] = { err = interrupted("POST checkout") },
      ["POST /api/v2/flows/actions/checkin"] = { 409, { message = "Flow Main line is checked out by Ann" } },
    }
    local r = api:edit_flow(FLOW, QUEUES)
    assert.is_nil(r.checkin_failed)
    assert.is_nil(r.left_locked)
  end)

  it("names a flow it could not check in and that is still locked, in the result and the report", function()
    local api, sent = scripted {
      ["GET /api/v2/flows/f1/latestconfiguration"] = { 200, config(1) },
      ["POST /api/v2/flows/actions/checkout"] = { 200, {} },
      ["POST /api/v2/flows/f1/versions"] = { err = interrupted("POST versions") },
      ["POST /api/v2/flows/actions/checkin"] = { err = errors.new("transport", "POST checkin: connection refused") },
      ["GET /api/v2/flows/f1"] = { 200, { id = FLOW, name = "Main line", lockedUser = { id = "me" },
        savedVersion = { id = "1" }, publishedVersion = { id = "1" } } },
    }
    local r = api:edit_flow(FLOW, QUEUES)
    assert.same({ "POST /api/v2/flows/actions/checkin (cleanup)", "GET /api/v2/flows/f1 (cleanup)",
      "GET /api/v2/flows/f1/latestconfiguration (cleanup)" }, table.move(keys(sent), #sent - 2, #sent, 1, {}))
    assert.equal("interrupted", r.status)
    assert.is_true(r.left_locked)
    assert.matches("connection refused", r.checkin_failed)
    r.queues = { "q1" }
    local doc = report.document { started_at = 0, finished_at = 1, status = "interrupted", queues = {}, flows = { r } }
    assert.same({ { id = FLOW, name = "Main line" } }, doc.run.flows_left_locked)
    assert.is_true(doc.flows[1].left_locked)
  end)

  it("shows a flow left locked first, and a version saved but not published, in the Markdown and HTML reports", function()
    local doc = report.document { started_at = 0, finished_at = 1, status = "interrupted", queues = {}, flows = {
      { id = "f1", name = "Main line", status = "interrupted", left_locked = true, checkin_failed = "connection refused",
        old_version = 1, queues = { "q1" }, changes = {} },
      { id = "f2", name = "Overflow", status = "failed", saved_version = 5, old_version = 4, queues = { "q1" },
        changes = {}, error = "The flow has errors; version 5 was saved but not published" },
    } }
    local md = require("gcrun.report_md").render(doc)
    local alert = "> **Warning:** **1 flow left locked:** Main line (`f1`). This run checked it out and could not " ..
      "check it in again"
    local at = md:find(alert, 1, true)
    assert.truthy(at, md)
    assert.truthy(at < md:find("## Summary", 1, true), "the alert comes before the summary")
    assert.truthy(md:find("| flows left locked | 1 |", 1, true), md)
    assert.truthy(md:find("| Flow | Id | Status | Left locked | Old version | New version | Saved, not published |",
      1, true), md)
    assert.truthy(md:find("| Main line | `f1` | interrupted | LEFT LOCKED | 1 | ? |  |", 1, true), md)
    assert.truthy(md:find("| Overflow | `f2` | failed | no | 4 | ? | 5 |", 1, true), md)
    local html = require("gcrun.report_html").render(doc)
    assert.truthy(html:find('<p class="alert" role="alert"><b>1 flow left locked:</b> Main line (<code>f1</code>)',
      1, true), html)
    assert.truthy(html:find('<span class="s-failed">LEFT LOCKED</span>', 1, true))
    assert.truthy(html:find('<th>Left locked<th>Old version<th>New version<th>Saved, not published<th>', 1, true))
    assert.truthy(html:find('<span class="s-failed">5</span>', 1, true))
    -- nothing left locked: no alert
    doc.run.flows_left_locked, doc.flows[1].left_locked = {}, false
    assert.is_nil(require("gcrun.report_md").render(doc):find("Warning", 1, true))
    assert.is_nil(require("gcrun.report_html").render(doc):find('class="alert"', 1, true))
  end)

  it("finds out a save whose answer never came landed, and says it is saved but not published", function()
    local api = scripted {
      ["GET /api/v2/flows/f1/latestconfiguration"] = function(_, n)
        if n < 3 then return { 200, config(4) } end
        local saved = config(5)                       -- our edit, as the cut-short save made it
        saved.nodes[1].config.queueName = "New name"
        return { 200, saved }
      end,
      ["POST /api/v2/flows/actions/checkout"] = { 200, {} },
      ["POST /api/v2/flows/f1/versions"] = { err = interrupted("POST versions") },
      ["POST /api/v2/flows/actions/checkin"] = { 200, {} },
    }
    local r = api:edit_flow(FLOW, QUEUES)
    assert.equal("interrupted", r.status)
    assert.equal(5, r.saved_version)
    assert.is_nil(r.new_version)
    assert.equal(1, #r.changes)
    assert.matches("version 5 was saved but not published", r.error)
  end)

  it("does not take another writer's version for a save whose answer never came", function()
    local api = scripted {
      ["GET /api/v2/flows/f1/latestconfiguration"] = function(_, n)
        return { 200, config(n < 3 and 4 or 5) }      -- version 5 is not ours: it lacks the edit
      end,
      ["POST /api/v2/flows/actions/checkout"] = { 200, {} },
      ["POST /api/v2/flows/f1/versions"] = { err = interrupted("POST versions") },
      ["POST /api/v2/flows/actions/checkin"] = { 200, {} },
    }
    local r = api:edit_flow(FLOW, QUEUES)
    assert.equal("interrupted", r.status)
    assert.is_nil(r.saved_version)
    assert.same({}, r.changes)
  end)

  it("counts a publish whose answer never came but that landed as an update", function()
    local api = scripted {
      ["GET /api/v2/flows/f1/latestconfiguration"] = { 200, config(4) },
      ["POST /api/v2/flows/actions/checkout"] = { 200, {} },
      ["POST /api/v2/flows/f1/versions"] = { 200, { id = "5" } },
      ["POST /api/v2/flows/actions/publish"] = { err = interrupted("POST publish") },
      ["POST /api/v2/flows/actions/checkin"] = { 200, {} },
      ["GET /api/v2/flows/f1"] = { 200, { id = FLOW, name = "Main line", savedVersion = { id = "5" },
        publishedVersion = { id = "5" } } },
    }
    local r = api:edit_flow(FLOW, QUEUES)
    assert.equal("updated", r.status)
    assert.equal(5, r.new_version)
    assert.is_nil(r.error)
  end)

  it("keeps a failure that is not an interrupt as failed, with its message", function()
    local api = scripted {
      ["GET /api/v2/flows/f1/latestconfiguration"] = { 200, config(4) },
      ["POST /api/v2/flows/actions/checkout"] = { 200, {} },
      ["POST /api/v2/flows/f1/versions"] = { 200, { id = "5" } },
      ["POST /api/v2/flows/actions/publish"] = { 400, { message = "The flow has errors" } },
      ["POST /api/v2/flows/actions/checkin"] = { 200, {} },
    }
    local r = api:edit_flow(FLOW, QUEUES)
    assert.equal("failed", r.status)
    assert.equal(5, r.saved_version)
    assert.matches("The flow has errors", r.error)
    assert.matches("version 5 was saved but not published", r.error)
  end)
end)

describe("waits in the flow edit", function()
  local log = require "gcrun.log"
  local retry = require "gcrun.retry"
  local lines, real_backoff

  -- the log's stderr, kept in `lines`
  local sink = {
    write = function(_, ...) lines[#lines + 1] = table.concat({ ... }) end,
    flush = function() end,
  }

  before_each(function()
    lines, real_backoff = {}, retry.backoff
  end)
  after_each(function()
    retry.backoff = real_backoff
    log.configure { level = log.NORMAL, out = io.stderr }
  end)

  local function said(pattern)
    local n = 0
    for _, l in ipairs(lines) do if l:find(pattern, 1, true) then n = n + 1 end end
    return n
  end

  it("says a wait for a locked flow of 3 s or more on stderr at normal verbosity, once as it begins", function()
    log.configure { level = log.NORMAL, out = sink }
    retry.backoff = function(n) return n == 1 and 3 or 0.01 end   -- a long wait, then a short one
    local api = scripted {
      ["GET /api/v2/flows/f1/latestconfiguration"] = { 200, config(1) },
      ["POST /api/v2/flows/actions/checkout"] = function(_, n)
        if n <= 2 then return { 409, { message = "Flow Main line is checked out by Ann" } } end
        return { 200, {} }
      end,
      ["POST /api/v2/flows/f1/versions"] = { 200, { id = "2" } },
      ["POST /api/v2/flows/actions/publish"] = { 200, {} },
      ["POST /api/v2/flows/actions/checkin"] = { 200, {} },
    }
    local r = api:edit_flow(FLOW, QUEUES)
    assert.equal("updated", r.status, r.error)
    assert.equal(2, r.lock_waits)
    assert.equal(1, said("gcrun: warning: flow 'Main line' is locked by another user; waiting 3.0 s " ..
      "(wait 1, 0 s of at most 60 s so far; --force-unlock breaks the lock)\n"), table.concat(lines))
    assert.equal(0, said("waiting 0.0 s"), table.concat(lines))   -- the short one only under --verbose
    assert.equal(1, #lines, table.concat(lines))
  end)

  it("says a refetch after a stale version, under --verbose when it is short", function()
    log.configure { level = log.VERBOSE, out = sink }
    local api = scripted {
      ["GET /api/v2/flows/f1/latestconfiguration"] = function(_, n) return { 200, config(n) } end,
      ["POST /api/v2/flows/actions/checkout"] = { 200, {} },
      ["POST /api/v2/flows/f1/versions"] = function(_, n)
        if n == 1 then return { 409, { message = "version 1 does not match the current version" } } end
        return { 200, { id = "3" } }
      end,
      ["POST /api/v2/flows/actions/publish"] = { 200, {} },
      ["POST /api/v2/flows/actions/checkin"] = { 200, {} },
    }
    local r = api:edit_flow(FLOW, QUEUES)
    assert.equal("updated", r.status, r.error)
    assert.equal(1, r.conflicts)
    assert.equal(1, said("flow 'Main line' is to be saved again from a fresh read; waiting "), table.concat(lines))
    assert.equal(1, said("(attempt 2 of 16)"), table.concat(lines))
  end)
end)
