-- The impact report for routing administrators. The JSON layout keeps the
-- tutorial's fields (generated_at, total_queues_updated, changes[] with
-- queue_id, queue_name, skills_assigned, members_assigned,
-- validation_corrections, flow_node_updated, status, timestamp) and adds,
-- per queue, what changed from what to what, and for the run where it ran
-- and how it went. Markdown and HTML renderings are in report_md.lua and
-- report_html.lua. Edit this file to change the layout.
--
-- Each queue's `warnings` (and each skipped file's) are what was said
-- about its definition file (an unknown key and its likely meaning).
--
-- Queue status: updated, unchanged, planned (--dry-run), failed,
-- interrupted, not_started. total_queues_updated counts "updated" only.
-- The records are gcrun.result's; the names below are the report's, kept
-- as they were so existing reports stay readable (skill rows say both
-- `level` and the platform's `proficiency`).
local errors = require "gcrun.errors"
local json = require "gcrun.json"
local report_graph = require "gcrun.report_graph"
local sys = require "gcrun.sys"
local text = require "gcrun.text"

local M = {}

local A = json.array

local function list(t) return A(t or {}) end

-- Names beside ids (issue 13): every id an entry holds is named in its
-- `names` ({id: name}: gcrun.report_names's from the state read, and the
-- run's from gcrun.resolve), and objects carry their name inline (ring
-- numbers' member_name, skill rows' name); levels and ring numbers are
-- integers.
local function int(v) return math.tointeger(v) or v end

local function queue_entry(e, run_names)
  local all = run_names or {}
  local users, skill_names, flow_names = all.users or {}, all.skills or {}, all.flows or {}
  local names = {}
  for id, n in pairs(e.names or {}) do names[id] = n end
  local function name(id, from)
    if id and from[id] and not names[id] then names[id] = from[id] end
    return id and names[id]
  end
  for _, id in ipairs(e.members_added or {}) do name(id, users) end
  for _, id in ipairs(e.members_removed or {}) do name(id, users) end
  local ring = A({})
  for _, r in ipairs(e.ring_changes or {}) do
    ring[#ring + 1] = { member = r.member, member_name = name(r.member, users), before = int(r.before),
      after = int(r.after) }
  end
  local assignments = A({})
  for _, a in ipairs(e.skill_assignments or {}) do
    local skills = A({})
    for _, s in ipairs(a.skills) do
      skills[#skills + 1] = { id = s.id, name = name(s.id, skill_names), level = int(s.level),
        proficiency = int(s.level), before = int(s.before), added = s.added,
        removed = (s.removed or s.level == 0) or nil }
    end
    name(a.user, users)
    assignments[#assignments + 1] = { user = a.user, name = a.name or names[a.user], skills = skills }
  end
  for _, f in ipairs(e.flows or {}) do name(f.id, flow_names) end
  local corrections = A({})
  for _, c in ipairs(e.corrections or {}) do
    corrections[#corrections + 1] = { rule = c.rule, change = c.change, source = c.source }
  end
  local flows = A({})
  for _, f in ipairs(e.flows or {}) do
    flows[#flows + 1] = { id = f.id, name = f.name, status = f.status, old_version = f.old_version,
      new_version = f.new_version }
  end
  local removed_rings = A({})
  for _, r in ipairs(e.removed_rings or {}) do
    removed_rings[#removed_rings + 1] = { member = r.member, before = r.before }
  end
  local c = e.counters or {}
  return {
    deleted = e.deleted, differences = e.differences and A(e.differences),
    ring_numbers_removed = removed_rings,
    queue_id = e.queue_id, queue_name = e.queue_name, skills_assigned = e.skills_assigned or 0,
    members_assigned = e.members_assigned or 0, validation_corrections = corrections,
    flow_node_updated = e.flow_node_updated or false, status = e.status, timestamp = e.timestamp,
    file = e.file, error = e.error, fields_changed = list(e.fields_changed), created = e.created or nil,
    members_added = list(e.members_added), members_removed = list(e.members_removed),
    ring_numbers = ring, skill_assignments = assignments, flows = flows,
    requests = c.requests or 0, retries = c.retries or 0, throttled = c.throttled or 0,
    names = names, warnings = list(e.def and e.def.warnings or e.warnings),
  }
end

local function flow_entry(f)
  local queues = A({})
  for _, q in ipairs(f.queues or {}) do queues[#queues + 1] = q end
  local c = f.counters or {}
  return {
    id = f.id, name = f.name, status = f.status, old_version = f.old_version, new_version = f.new_version,
    queues = queues, nodes_changed = list(f.changes), attempts = f.attempts, conflicts = f.conflicts,
    lock_waits = f.lock_waits, unlocked_from = f.unlocked, checkin_failed = f.checkin_failed, error = f.error,
    saved_version = f.saved_version, left_locked = f.left_locked or false,
    requests = c.requests or 0, retries = c.retries or 0, throttled = c.throttled or 0,
    differences = f.differences and A(f.differences),
  }
end

-- document(run) -> the report as a table, ready for JSON
function M.document(run)
  local changes, counts = A({}), {}
  local totals = { requests = 0, retries = 0, throttled = 0 }
  local generated_at = text.iso8601(run.finished_at or sys.time())
  for _, e in ipairs(run.queues) do
    local entry = queue_entry(e, run.names)
    -- a queue never started (interrupted, or the run failed first) has its
    -- status as of the run's end
    entry.timestamp = entry.timestamp or generated_at
    changes[#changes + 1] = entry
    counts[e.status] = (counts[e.status] or 0) + 1
    for k in pairs(totals) do totals[k] = totals[k] + entry[k] end
  end
  local flows, flows_updated, flows_failed, left_locked = A({}), 0, 0, A({})
  for _, f in ipairs(run.flows or {}) do
    local entry = flow_entry(f)
    flows[#flows + 1] = entry
    if f.left_locked then left_locked[#left_locked + 1] = { id = f.id, name = f.name } end
    if f.status == "updated" then flows_updated = flows_updated + 1 end
    if f.status == "failed" then flows_failed = flows_failed + 1 end
    for k in pairs(totals) do totals[k] = totals[k] + entry[k] end
  end
  for k in pairs(totals) do totals[k] = totals[k] + ((run.extra_counters or {})[k] or 0) end
  -- the timeline saw every request, those of a run that failed before its
  -- queues started included: its totals are the run's
  local tl = run.timeline and run.timeline:document()
  if tl then
    for k in pairs(totals) do totals[k] = tl.totals[k] or totals[k] end
  end
  local skipped = A({})
  for _, s in ipairs(run.skipped or {}) do
    skipped[#skipped + 1] = { file = s.file, errors = A(s.errors), warnings = list(s.warnings) }
  end
  return {
    generated_at = generated_at,
    total_queues_updated = counts.updated or 0,
    changes = changes,
    flows = flows,
    skipped_files = skipped,
    timeline = tl,   -- for the pictures (report_svg.lua)
    graph = report_graph.of(changes, flows),
    run = {
      status = run.status, dry_run = run.dry_run or false, dialect = run.dialect, target = run.target,
      org_id = run.org and run.org.id, org_name = run.org and run.org.name, kind = run.kind,
      rollback_of = run.rollback_of, check = run.check,
      gcrun_version = run.version, started_at = text.iso8601(run.started_at),
      finished_at = text.iso8601(run.finished_at or sys.time()),
      duration_seconds = math.floor(((run.finished_at or sys.time()) - run.started_at) * 1000) / 1000,
      counts = counts, flows_updated = flows_updated, flows_failed = flows_failed, flows_left_locked = left_locked,
      requests = totals.requests, retries = totals.retries, throttled = totals.throttled,
      error = run.error,   -- what failed the run as a whole (nil: none did)
      writes_sent = run.timeline and run.timeline.writes_sent or 0,   -- non-GET requests sent
    },
  }
end

-- The format a report path asks for: --format, else its extension.
function M.format_for(path, format)
  if format then return format end
  local ext = path:match("%.(%w+)$")
  ext = ext and ext:lower()
  if ext == "md" or ext == "markdown" then return "md" end
  if ext == "html" or ext == "htm" then return "html" end
  return "json"
end

function M.render(doc, format)
  if format == "md" then return require("gcrun.report_md").render(doc) end
  if format == "html" then return require("gcrun.report_html").render(doc) end
  return json.encode(doc, { pretty = true }) .. "\n"
end

-- "-" is standard output, written as it comes (results and diagnostics go
-- to stderr, so stdout holds the report alone).
local STDOUT = {
  write = function(_, s)
    local ok, err = io.stdout:write(s)
    return ok and true, err
  end,
  commit = function()
    local ok, err = io.stdout:flush()
    return ok and true, err
  end,
}

-- A real run that sent no write does not replace the default impact
-- report (queue_impact_report.EXT) of one that did (the audit trail, and
-- what queue-rollback reads): its report goes beside it,
-- queue_impact_report.failed.EXT (.unchanged.EXT when it completed). A
-- report path of the user's choosing is written as asked. Returns the path
-- to write.
function M.keeping_audit(path, doc)
  if path == "-" or doc.run.dry_run or doc.run.writes_sent > 0 then return path end
  if not path:match("([^/]*)$"):match("^queue_impact_report%.[^.]+$") then return path end
  local bytes = sys.read(path, 64 * 1024 * 1024)
  if not bytes or require("gcrun.report_files").kind(bytes) ~= "impact" then return path end
  local ok, old = pcall(json.decode, bytes)
  local old_run = ok and type(old) == "table" and type(old.run) == "table" and old.run
  -- a report too deep to read, or written before writes_sent, recorded writes if it changed anything
  if old_run and (old_run.writes_sent == 0 or (old_run.writes_sent == nil
      and (old.total_queues_updated or 0) == 0 and (old_run.flows_updated or 0) == 0
      and ((old_run.counts or {}).failed or 0) == 0)) then
    return path
  end
  local dir, base = path:match("^(.-)([^/]*)$")
  local stem, ext = base:match("^(.+)(%.[^.]*)$")
  if not stem then stem, ext = base, "" end
  local beside = dir .. stem .. (doc.run.status == "completed" and ".unchanged" or ".failed") .. ext
  require("gcrun.log").warn(string.format("this run sent no write: %s keeps the report of the last run that did;"
    .. " this one is %s", path, beside))
  return beside
end

-- write(run, path [, format]) -> document, the path written. Written to a temporary file and
-- renamed, so a crash never leaves half a report (and a path that is not a
-- regular file, such as /dev/null, is refused: see sys.open_atomic); the
-- JSON is streamed out as it is made, so a large run's report is never
-- held whole in memory.
function M.write(run, path, format)
  local doc = M.document(run)
  format = M.format_for(path, format)
  path = M.keeping_audit(path, doc)
  local f, err = STDOUT, nil
  if path ~= "-" then f, err = sys.open_atomic(path) end
  if not f then errors.raise("report", "cannot write the report: %s", err) end
  local ok, werr = true, nil
  local function write(s)
    if ok then ok, werr = f:write(s) end
  end
  if format == "json" then
    json.encode_to(doc, write, { pretty = true })
    write("\n")
  else
    write(M.render(doc, format))
  end
  if ok then ok, werr = f:commit() end
  if not ok then errors.raise("report", "cannot write the report: %s", werr) end
  return doc, path
end

return M
