-- What queue-sync prints: a line per queue (with its corrections), the
-- plan under --dry-run, a line per flow, and the summary at the end.
-- Results, through gcrun.log (stdout; --quiet and --log-format json apply).
local json = require "gcrun.json"
local log = require "gcrun.log"
local records = require "gcrun.result"
local text = require "gcrun.text"

local M = {}

local function show(v)
  if v == nil then return "(none)" end
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "number" then return tostring(math.tointeger(v) or v) end
  return json.encode(v)
end

local function short(id) return id and tostring(id):sub(1, 8) or "new" end

-- Levels and ring numbers as people write them: 2, not 2.0.
local function int(v) return tostring(math.tointeger(v) or v) end

-- "name, acwSettings; +2 -1 members, 1 ring number, 4 skill assignments"
function M.summary_of(e)
  local parts = {}
  if e.created then parts[#parts + 1] = "created" end
  if e.fields_changed and #e.fields_changed > 0 then
    local fields = {}
    for _, c in ipairs(e.fields_changed) do fields[#fields + 1] = c.field end
    parts[#parts + 1] = table.concat(fields, ", ")
  end
  local m = {}
  if #(e.members_added or {}) > 0 or #(e.members_removed or {}) > 0 then
    m[#m + 1] = string.format("+%d -%d members", #e.members_added, #e.members_removed)
  end
  if #(e.ring_changes or {}) > 0 then m[#m + 1] = text.plural(#e.ring_changes, "ring number") end
  if #(e.skill_assignments or {}) > 0 then
    m[#m + 1] = string.format("skills for %s", text.plural(#e.skill_assignments, "agent"))
  end
  if #m > 0 then parts[#parts + 1] = table.concat(m, ", ") end
  return table.concat(parts, "; ")
end

function M.queue(e)
  local detail = e.status == "failed" and e.error or e.status == "interrupted" and "interrupted" or M.summary_of(e)
  local line = string.format("  %-11s %s (%s)%s", e.status, e.queue_name or "?", short(e.queue_id),
    detail ~= "" and ("  " .. detail) or "")
  log.event(e.status == "failed" and 0 or 1, "queue", line, {
    queue_id = e.queue_id, queue_name = e.queue_name, status = e.status, file = e.file, error = e.error,
    corrections = #(e.corrections or {}), changes = M.summary_of(e),
  })
  for _, c in ipairs(e.corrections or {}) do
    log.event(1, "correction", string.format("              corrected by %s: %s", c.rule, c.change),
      { queue_id = e.queue_id, rule = c.rule, change = c.change, source = c.source })
  end
end

-- The plan of one queue, in detail (--dry-run).
function M.plan(e, plan, names)
  local function who(id)
    local n = names.users[id]
    return n and string.format("%s (%s)", n, short(id)) or id
  end
  local lines = { string.format("plan for %s (%s) from %s:", e.queue_name, e.queue_id or "new", e.file) }
  if e.created then lines[#lines + 1] = string.format("    create queue %q", e.queue_name) end
  for _, c in ipairs(plan.fields_changed) do
    if c.field ~= "members" and c.field ~= "skills" then
      lines[#lines + 1] = string.format("    %s: %s -> %s", c.field, show(c.before), show(c.after))
    end
  end
  for _, id in ipairs(plan.members_added) do lines[#lines + 1] = "    + member " .. who(id) end
  for _, id in ipairs(plan.members_removed) do lines[#lines + 1] = "    - member " .. who(id) end
  for _, r in ipairs(plan.ring_changes) do
    lines[#lines + 1] = string.format("    ring number of %s: %s -> %s", who(r.member), int(r.before), int(r.after))
  end
  for _, a in ipairs(plan.skill_assignments) do
    local skills = {}
    for _, s in ipairs(a.skills) do
      -- old -> new level; "removed" for level 0
      skills[#skills + 1] = string.format("%s %s -> %s", names.skills[s.id] or s.id,
        s.before and int(s.before) or "none", s.level == 0 and "removed" or int(s.level))
    end
    lines[#lines + 1] = string.format("    skills for %s: %s", who(a.user), table.concat(skills, ", "))
  end
  if #lines == 1 then lines[#lines + 1] = "    nothing to change" end
  for _, l in ipairs(lines) do log.event(1, "plan", l, { queue_id = e.queue_id }) end
end

function M.flow(f)
  local line
  if f.status == "updated" then
    line = string.format("  flow %s (%s): version %s -> %s, %s%s", f.name or "?", short(f.id), f.old_version,
      f.new_version, text.plural(#f.changes, "node edit"),
      (f.conflicts or 0) > 0 and string.format(" (%s retried)", text.plural(f.conflicts, "conflict")) or "")
  elseif f.status == "planned" then
    local edits = {}
    for _, c in ipairs(f.changes) do
      edits[#edits + 1] = string.format("node %s %s %s -> %s", c.node, c.field, show(c.before), show(c.after))
    end
    line = string.format("  flow %s (%s) would be edited: %s", f.name or "?", short(f.id), table.concat(edits, "; "))
  elseif f.status == "failed" then
    line = string.format("  flow %s (%s) failed: %s", f.name or "?", short(f.id), f.error)
  else
    line = string.format("  flow %s (%s): %s%s", f.name or "?", short(f.id), f.status,
      f.saved_version and string.format(" (version %d saved, not published)", f.saved_version) or "")
  end
  log.event(f.status == "failed" and 0 or 1, "flow", line, { flow_id = f.id, flow_name = f.name, status = f.status,
    old_version = f.old_version, new_version = f.new_version, error = f.error })
  if f.checkin_failed then
    log.error(string.format("flow %s (%s) could not be checked in%s: %s", f.name or "?", f.id,
      f.left_locked and " and is left locked" or "", f.checkin_failed))
  end
end

function M.summary(doc, report_path)
  local run = doc.run
  if log.format() == "json" then
    log.event(1, "summary", "queue-sync " .. run.status, { status = run.status, counts = run.counts,
      flows_updated = run.flows_updated, flows_failed = run.flows_failed, requests = run.requests,
      retries = run.retries, throttled = run.throttled, seconds = run.duration_seconds, report = report_path,
      error = run.error,
      skipped_files = doc.skipped_files })
    return
  end
  local rows = {}
  for _, k in ipairs(records.STATUSES) do
    if run.counts[k] then rows[#rows + 1] = string.format("  %-14s %5d", k, run.counts[k]) end
  end
  local corrections = 0
  for _, c in ipairs(doc.changes) do corrections = corrections + #c.validation_corrections end
  local lines = {
    string.format("queue-sync %s: %s, %s API, %s", run.status, text.plural(#doc.changes, "queue"), run.dialect,
      run.target),
  }
  for _, r in ipairs(rows) do lines[#lines + 1] = r end
  lines[#lines + 1] = string.format("  %-14s %5d", "flows updated", run.flows_updated)
  if run.flows_failed > 0 then lines[#lines + 1] = string.format("  %-14s %5d", "flows failed", run.flows_failed) end
  for _, f in ipairs(run.flows_left_locked or {}) do
    lines[#lines + 1] = string.format("  left locked    flow %s (%s): check it in or unlock it", f.name or "?", f.id)
  end
  lines[#lines + 1] = string.format("  %-14s %5d", "corrections", corrections)
  lines[#lines + 1] = string.format("  %-14s %5d  (%d retries, %d answered 429) in %.1f s", "requests",
    run.requests, run.retries, run.throttled, run.duration_seconds)
  for _, sk in ipairs(doc.skipped_files) do
    lines[#lines + 1] = string.format("skipped %s: %s", sk.file, table.concat(sk.errors, "; "))
  end
  if report_path then lines[#lines + 1] = "report: " .. report_path end
  for _, l in ipairs(lines) do log.event(1, "summary", l, {}) end
end

return M
