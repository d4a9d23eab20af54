-- What queue-rollback prints: a line per queue (what it restores, or the
-- differences that left it alone), the details of the plan, a line per
-- flow, and the summary. Results, through gcrun.log (stdout).
local json = require "gcrun.json"
local log = require "gcrun.log"
local sync_output = require "gcrun.sync_output"
local text = require "gcrun.text"

local M = {}

local function show(v)
  if v == nil or v == json.null then return "(none)" end
  if type(v) == "string" then return string.format("%q", v) end
  return json.encode(v)
end

local function short(id) return tostring(id):sub(1, 8) end

local WORDS = { updated = "rolled back", planned = "would roll back", conflict = "conflict", unchanged = "unchanged",
  failed = "failed", interrupted = "interrupted", kept = "kept", deleted = "deleted", not_started = "not started" }

local function differences(id, list)
  for _, d in ipairs(list or {}) do
    log.event(1, "plan", string.format("      changed since the run: %s: the run left %s, now %s", d.what,
      show(d.expected), show(d.found)), { id = id, what = d.what })
  end
end

-- The restoring a queue's record holds, line by line (--dry-run, -v).
local function details(e)
  local lines = {}
  for _, c in ipairs(e.fields_changed) do
    lines[#lines + 1] = string.format("      %s: %s -> %s", c.field, show(c.before), show(c.after))
  end
  for _, id in ipairs(e.members_removed) do lines[#lines + 1] = "      - member " .. id end
  for _, id in ipairs(e.members_added) do lines[#lines + 1] = "      + member " .. id end
  for _, r in ipairs(e.ring_changes) do
    lines[#lines + 1] = string.format("      ring number of %s: %s -> %s", r.member, r.before, r.after)
  end
  for _, a in ipairs(e.skill_assignments) do
    local skills = {}
    for _, s in ipairs(a.skills) do
      skills[#skills + 1] = s.removed and (s.id .. " removed") or string.format("%s %s -> %s", s.id,
        s.before or "(none)", s.level)
    end
    lines[#lines + 1] = string.format("      skills of %s: %s", a.name or a.user, table.concat(skills, ", "))
  end
  return lines
end

local function left_alone(e)
  local what = {}
  for i, d in ipairs(e.differences or {}) do
    if i > 3 then what[#what + 1] = "..."; break end
    what[#what + 1] = d.what
  end
  if e.forced then return "rolled back over changes made since the run (--force): " .. table.concat(what, ", ") end
  return "left alone, changed since the run (--force rolls back): " .. table.concat(what, ", ")
end

function M.queue(e)
  local detail = e.error or M.summary_of(e)
  if e.status == "conflict" then
    detail = left_alone(e)
  elseif #(e.differences or {}) > 0 and not e.error then
    detail = (detail ~= "" and (detail .. "; ") or "") .. left_alone(e)
  end
  local line = string.format("  %-15s %s (%s)%s", WORDS[e.status] or e.status, e.queue_name or "?",
    short(e.queue_id), detail ~= "" and ("  " .. detail) or "")
  log.event(e.status == "failed" and 0 or 1, "queue", line, { queue_id = e.queue_id, queue_name = e.queue_name,
    status = e.status, error = e.error, changes = M.summary_of(e), differences = #(e.differences or {}) })
  differences(e.queue_id, e.differences)
  if e.status == "planned" or log.enabled(log.VERBOSE) then
    for _, l in ipairs(details(e)) do log.event(1, "plan", l, { queue_id = e.queue_id }) end
  end
end

function M.summary_of(e) return sync_output.summary_of(e) end

function M.created(e, deleting)
  log.event(1, "plan", string.format("      %s (%s) was created by the run: %s", e.queue_name or "?", short(e.queue_id),
    deleting and "deleting it (--delete-created)" or "left in place (--delete-created deletes it)"),
    { queue_id = e.queue_id })
end

function M.still_routed(e, flows)
  log.event(1, "plan", string.format("      %s (%s) is not deleted: flows still route to it (%s)", e.queue_name or "?",
    short(e.queue_id), table.concat(flows, ", ")), { queue_id = e.queue_id })
end

function M.not_restorable(e)
  log.warn(string.format("%s (%s) was deleted by the rollback being undone: gcrun does not create it again",
    e.queue_name or "?", e.queue_id))
end

function M.flow(f)
  local line
  if f.status == "updated" then
    line = string.format("  flow %s (%s): version %s -> %s, %s restored", f.name or "?", short(f.id),
      f.old_version, f.new_version, text.plural(#f.changes, "node edit"))
  elseif f.status == "planned" then
    local edits = {}
    for _, c in ipairs(f.changes) do
      edits[#edits + 1] = string.format("node %s %s %s -> %s", c.node, c.field, show(c.before), show(c.after))
    end
    line = string.format("  flow %s (%s) would be restored: %s", f.name or "?", short(f.id), table.concat(edits, "; "))
  elseif f.status == "conflict" then
    line = string.format("  flow %s (%s): conflict, left alone: changed since the run (--force rolls it back)",
      f.name or "?", short(f.id))
  elseif f.status == "failed" or f.status == "interrupted" then
    line = string.format("  flow %s (%s) %s: %s", f.name or "?", short(f.id), f.status, f.error or "")
  else
    line = string.format("  flow %s (%s): %s", f.name or "?", short(f.id), f.status)
  end
  log.event(f.status == "failed" and 0 or 1, "flow", line, { flow_id = f.id, flow_name = f.name, status = f.status,
    old_version = f.old_version, new_version = f.new_version, error = f.error })
  differences(f.id, f.differences)
  if f.checkin_failed then log.error(string.format("flow %s could not be checked in: %s", f.id, f.checkin_failed)) end
end

local ORDER = { "updated", "planned", "unchanged", "conflict", "kept", "deleted", "failed", "interrupted",
  "not_started" }

function M.summary(doc, run, report_path)
  local r = doc.run
  local conflicts, left = 0, 0
  for _, f in ipairs(run.flows) do if f.status == "conflict" then conflicts = conflicts + 1 end end
  if not run.force then
    for _, e in ipairs(run.queues) do if #(e.differences or {}) > 0 then left = left + 1 end end
  end
  if log.format() == "json" then
    log.event(1, "summary", "queue-rollback " .. r.status, { status = r.status, counts = r.counts,
      flows_updated = r.flows_updated, flows_failed = r.flows_failed, flow_conflicts = conflicts, left_alone = left,
      requests = r.requests, report = report_path, rollback_of = r.rollback_of })
    return
  end
  local lines = { string.format("queue-rollback %s: %s from %s, %s", r.status, text.plural(#doc.changes, "queue"),
    r.rollback_of, r.target) }
  for _, k in ipairs(ORDER) do
    if r.counts[k] then lines[#lines + 1] = string.format("  %-16s %5d", WORDS[k], r.counts[k]) end
  end
  if left > 0 then
    lines[#lines + 1] = string.format("  %-16s %5d  (queues with changes made since the run: --force rolls them back)",
      "left alone", left)
  end
  lines[#lines + 1] = string.format("  %-16s %5d", "flows restored", r.flows_updated)
  if conflicts > 0 then lines[#lines + 1] = string.format("  %-16s %5d", "flow conflicts", conflicts) end
  if r.flows_failed > 0 then lines[#lines + 1] = string.format("  %-16s %5d", "flows failed", r.flows_failed) end
  lines[#lines + 1] = string.format("  %-16s %5d  (%d retries) in %.1f s", "requests", r.requests, r.retries,
    r.duration_seconds)
  if report_path then lines[#lines + 1] = "report: " .. report_path end
  for _, l in ipairs(lines) do log.event(1, "summary", l, {}) end
end

return M
