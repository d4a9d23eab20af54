-- What the readable impact reports say, in order, for both renderings:
-- report_md.lua and report_html.lua walk the same list of blocks, so the
-- Markdown and the HTML carry the same facts in the same order as the JSON
-- (run, timeline, graph, queues in file order with their changes, flows,
-- skipped files). Edit this file to change what the reports say; the
-- renderers only decide how it looks.
--
-- Blocks: {"h", level, text, id=}, {"p", inline...}, {"alert", inline...}
-- (what an auditor must not miss, shown first and set apart), {"table", header,
-- rows, caption=, mono=column of identifiers, kind= fields|agents|corrections
-- in a queue's section (skill_columns: an agents table's columns after the
-- third are skills, named by the header)}, {"list", items},
-- {"picture", kind, data, text= | items=} (its text equivalent: sentences
-- or a list), and {"section"} ... {"end"} around each queue.
-- Inline pieces (in paragraphs, cells, items): a string or number, or
-- {code=}, {strong=}, {status=}, {add=}, {remove=}, {before=, after=}, or
-- a list of pieces.
local json = require "gcrun.json"
local STATUSES = require("gcrun.result").STATUSES
local text = require "gcrun.text"
local timeline = require "gcrun.timeline"

local M = {}


local WAIT_NAMES = {
  pacing = "held requests back for the rate budget", retry_after = "honoured Retry-After",
  backoff = "backed off after a fault", lock = "waited for flow locks held by others",
  conflict = "backed off after a stale flow version", lag = "waited for the service to catch up",
  sleep = "waited otherwise",
}
M.WAIT_NAMES = WAIT_NAMES

local PHASE_NAMES = { prepare = "prepare", queues = "queues", agents = "agents' skills", flows = "flows" }

local function value(v)
  if v == nil or v == json.null then return "(none)" end
  if type(v) == "table" then return json.encode(v) end
  return tostring(math.tointeger(v) or v)
end

local function secs(x)
  x = x or 0
  return string.format(x < 10 and "%.2f s" or "%.1f s", x)
end

local function version(v)
  if v == nil or v == json.null then return "?" end
  return tostring(v)
end

-- The flows the run could not check in: nobody else can edit them until
-- they are checked in or unlocked, so the reports say so before anything.
local function left_locked_alert(run, out)
  local locked = run.flows_left_locked or {}
  if #locked == 0 then return end
  local alert = { "alert", { strong = text.plural(#locked, "flow") .. " left locked:" }, " " }
  for i, f in ipairs(locked) do
    alert[#alert + 1] = { i > 1 and "; " or "", f.name or f.id, " (", { code = f.id }, ")" }
  end
  alert[#alert + 1] = ". This run checked " .. (#locked == 1 and "it" or "them") .. " out and could not check "
    .. (#locked == 1 and "it" or "them") .. " in again: nobody else can edit " .. (#locked == 1 and "it" or "them")
    .. " until checked in (by the same OAuth client) or unlocked (Architect, or POST /api/v2/flows/actions/unlock)."
  out[#out + 1] = alert
end

-- The run in sentences.
local function run_blocks(doc, out)
  local run = doc.run
  out[#out + 1] = { "h", 1, "Queue impact report" }
  left_locked_alert(run, out)
  out[#out + 1] = { "p", "Generated ", doc.generated_at, " by gcrun ", value(run.gcrun_version), " against ",
    value(run.target), " (", value(run.dialect), " API).",
    run.dry_run and { " ", { strong = "Dry run: nothing was changed." } } or "" }
  out[#out + 1] = { "p", "Run status ", { status = run.status }, ", from ", value(run.started_at), " to ",
    value(run.finished_at), " (", secs(run.duration_seconds), "): ",
    string.format("%d requests (%d retries, %d answered 429).", run.requests, run.retries, run.throttled) }
  if run.error then out[#out + 1] = { "alert", { strong = "The run failed:" }, " ", run.error } end
  local rows = {}
  for _, k in ipairs(STATUSES) do
    if run.counts[k] then rows[#rows + 1] = { { status = k }, run.counts[k] } end
  end
  rows[#rows + 1] = { "flows updated", run.flows_updated }
  if (run.flows_failed or 0) > 0 then
    rows[#rows + 1] = { { status = "failed", text = "flows failed" }, run.flows_failed }
  end
  if #(run.flows_left_locked or {}) > 0 then
    rows[#rows + 1] = { { status = "failed", text = "flows left locked" }, #run.flows_left_locked }
  end
  if #doc.skipped_files > 0 then rows[#rows + 1] = { "definition files skipped", #doc.skipped_files } end
  out[#out + 1] = { "h", 2, "Summary", id = "summary" }
  out[#out + 1] = { "table", { "Outcome", "Count" }, rows }
end

local function outcome_sentence(t)
  local parts = { string.format("%s answered", t.answered) }
  if t.throttled > 0 then parts[#parts + 1] = string.format("%d answered 429", t.throttled) end
  if t.server_error > 0 then parts[#parts + 1] = string.format("%d answered 5xx", t.server_error) end
  if t.dropped > 0 then parts[#parts + 1] = string.format("%d without an answer (dropped)", t.dropped) end
  return string.format("%s over %s: %s; %s.", text.plural(t.requests, "request"), "%s", table.concat(parts, ", "),
    text.plural(t.retries, "retry", "retries"))
end

-- The timeline's text equivalent: what the picture shows, in words.
function M.timeline_summary(tl)
  local t = tl.totals
  local lines = { string.format(outcome_sentence(t), secs(tl.duration_seconds)) }
  local min_left, allowed
  for i = 1, tl.buckets do
    local l, a = tl.series.budget_left[i], tl.series.budget_allowed[i]
    if l ~= nil and l ~= json.null then min_left = math.min(min_left or l, l) end
    if a ~= nil and a ~= json.null then allowed = math.max(allowed or a, a) end
  end
  if allowed then
    lines[#lines + 1] = string.format("The service advertised a budget of %d requests a window; the least left "
      .. "was %d.", allowed, min_left)
  else
    lines[#lines + 1] = "The service advertised no rate budget (no inin-ratelimit headers)."
  end
  local waits = {}
  for _, reason in ipairs(timeline.WAITS) do
    local w = t.waits[reason]
    if w then
      waits[#waits + 1] = string.format("%s %s (%s of the run)", WAIT_NAMES[reason],
        w.count == 1 and "once" or (w.count .. " times"), secs(w.covered_seconds))
    end
  end
  lines[#lines + 1] = #waits > 0 and ("gcrun " .. table.concat(waits, "; ") .. ".") or "gcrun never waited."
  local phases = {}
  for _, p in ipairs(tl.phases) do
    phases[#phases + 1] = string.format("%s %s to %s", PHASE_NAMES[p.name] or p.name, secs(p.from), secs(p.to))
  end
  if #phases > 0 then lines[#lines + 1] = "Phases: " .. table.concat(phases, ", ") .. "." end
  -- what held the run up most: waiting for the budget, recovering from
  -- faults, or neither (then the service's answer times)
  local function share(reason)
    return (t.waits[reason] and t.waits[reason].covered_seconds or 0) / math.max(tl.duration_seconds, 1e-3)
  end
  local bound = "latency (the time the service took to answer)"
  if share("pacing") + share("retry_after") > 0.3 then bound = "the rate budget"
  elseif share("backoff") > 0.3 or t.dropped + t.server_error > t.requests / 20 then bound = "faults"
  elseif share("lock") > 0.3 then bound = "flow locks held by others" end
  lines[#lines + 1] = string.format("Bucket width %s; on the whole the run was bound by %s.",
    string.format("%.3g s", tl.bucket_seconds), bound)
  return lines
end

local function flow_label(f)
  local parts = {}
  if version(f.new_version) ~= "?" then
    parts[1] = string.format("version %s to %s", version(f.old_version), version(f.new_version))
  elseif version(f.old_version) ~= "?" then
    parts[1] = "version " .. version(f.old_version)
  end
  if (f.lock_waits or 0) > 0 then parts[#parts + 1] = text.plural(f.lock_waits, "lock wait") end
  return (f.name or f.id) .. (#parts > 0 and (" (" .. table.concat(parts, ", ") .. ")") or "")
end
M.flow_label = flow_label

-- The graph's text equivalent: each flow edited and its queues.
function M.graph_summary(g)
  local names = {}
  for _, q in ipairs(g.queues) do names[q.id] = q.name or q.id end
  local items = {}
  for _, f in ipairs(g.flows) do
    local qs = {}
    for _, e in ipairs(g.edges) do if e.flow == f.id then qs[#qs + 1] = names[e.queue] or e.queue end end
    items[#items + 1] = { flow_label(f), ", ", { status = f.status }, ": ", table.concat(qs, ", ") }
  end
  return items
end

-- One row per agent whose membership or skills changed: membership
-- (added with its ring, removed, ring before and after) and each skill's
-- level before and after, a column per skill (one column for them all
-- when a queue changed many). -> header, rows
local SKILL_COLUMNS = 6

local function agent_table(c)
  local n = c.names or {}
  local skills, col_of = {}, {}
  for _, a in ipairs(c.skill_assignments) do
    for _, s in ipairs(a.skills) do
      if not col_of[s.id] then skills[#skills + 1] = s.id; col_of[s.id] = 3 + #skills end
    end
  end
  local columns = #skills <= SKILL_COLUMNS
  local header = { "Agent", "Id", "Membership" }
  if columns then
    for k, id in ipairs(skills) do header[3 + k] = n[id] or id end
  elseif #skills > 0 then
    header[4] = "Skills"
  end
  local rows, row_of = {}, {}
  local function row(id, name)
    if not row_of[id] then
      row_of[id] = { name or n[id] or id, id, "" }
      rows[#rows + 1] = row_of[id]
    end
    return row_of[id]
  end
  local ring = {}
  for _, r in ipairs(c.ring_numbers) do ring[r.member] = r end
  for _, id in ipairs(c.members_added) do
    row(id)[3] = { add = "added, ring " .. value(ring[id] and ring[id].after or 1) }
    ring[id] = nil
  end
  for _, id in ipairs(c.members_removed) do row(id)[3] = { remove = "removed" } end
  for _, r in ipairs(c.ring_numbers) do
    if ring[r.member] then
      row(r.member)[3] = { before = "ring " .. value(r.before), after = "ring " .. value(r.after) }
    end
  end
  for _, a in ipairs(c.skill_assignments) do
    local r, all = row(a.user, a.name), {}
    for i, s in ipairs(a.skills) do
      -- a skill taken away (level 0, issue 13) says so
      local change = { before = s.before == nil and "none" or value(s.before),
        after = s.removed and "removed" or value(s.level or s.proficiency) }
      if columns then
        r[col_of[s.id]] = change
      else
        all[#all + 1] = { i > 1 and "; " or "", (n[s.id] or s.id) .. " ", change }
      end
    end
    if not columns then r[4] = all end
  end
  return header, rows, columns
end

local function object(v) return type(v) == "table" and not json.is_array(v) and next(v) ~= nil end

-- The parts of a field that changed: a nested object is followed down to
-- what differs (acwSettings.timeoutMs), so a reader sees the change.
local function changed_leaves(path, before, after, rows)
  if object(before) and object(after) then
    local keys, seen = {}, {}
    for _, t in ipairs { before, after } do
      for k in pairs(t) do
        if not seen[k] then seen[k] = true; keys[#keys + 1] = k end
      end
    end
    table.sort(keys)
    for _, k in ipairs(keys) do changed_leaves(path .. "." .. k, before[k], after[k], rows) end
  elseif not json.equal(before, after) then
    rows[#rows + 1] = { path, value(before), { after = value(after) } }
  end
end

local function queue_blocks(c, out)
  out[#out + 1] = { "h", 3, { c.queue_name or c.queue_id, " ", { status = c.status } } }
  local facts = { "p", "Queue ", { code = c.queue_id } }
  if c.file then facts[#facts + 1] = { " from ", { code = c.file } } end
  if c.timestamp then facts[#facts + 1] = { ", done ", c.timestamp } end
  local load = { text.plural(c.requests, "request") }
  if c.retries > 0 then load[#load + 1] = text.plural(c.retries, "retry", "retries") end
  if c.throttled > 0 then load[#load + 1] = string.format("%d answered 429", c.throttled) end
  facts[#facts + 1] = "; " .. table.concat(load, ", ") .. "."
  out[#out + 1] = facts
  if c.error then out[#out + 1] = { "p", { strong = "Error: " }, c.error } end
  if #(c.warnings or {}) > 0 then
    out[#out + 1] = { "p", { strong = "Warnings" }, " about ", { code = c.file or "the definition" }, ":" }
    out[#out + 1] = { "list", c.warnings }
  end
  if #c.fields_changed > 0 then
    local rows = {}
    for _, f in ipairs(c.fields_changed) do changed_leaves(f.field, f.before, f.after, rows) end
    out[#out + 1] = { "table", { "Field", "Before", "After" }, rows, kind = "fields" }
  end
  local header, agents, skill_columns = agent_table(c)
  if #agents > 0 then
    out[#out + 1] = { "table", header, agents, mono = 2, kind = "agents", skill_columns = skill_columns }
  end
  if #c.validation_corrections > 0 then
    local rows = {}
    for _, v in ipairs(c.validation_corrections) do rows[#rows + 1] = { v.rule, v.source, v.change } end
    out[#out + 1] = { "table", { "Correction", "Found by", "Change" }, rows, kind = "corrections" }
  end
  if #c.flows > 0 then
    local items = { "p", "Flows: " }
    for j, f in ipairs(c.flows) do
      items[#items + 1] = { j > 1 and "; " or "", f.name or f.id, " (", f.status, ")" }
    end
    out[#out + 1] = items
  end
end

-- build(doc) -> the blocks, in order.
function M.build(doc)
  local out = {}
  run_blocks(doc, out)
  if doc.timeline then
    out[#out + 1] = { "h", 2, "Timeline", id = "timeline" }
    out[#out + 1] = { "picture", "timeline", doc.timeline, text = M.timeline_summary(doc.timeline) }
  end
  if doc.graph and #doc.graph.flows > 0 then
    out[#out + 1] = { "h", 2, "What changed where", id = "graph" }
    out[#out + 1] = { "picture", "graph", doc.graph, items = M.graph_summary(doc.graph) }
  end
  out[#out + 1] = { "h", 2, "Queues", id = "queues" }
  local rows = {}
  for _, c in ipairs(doc.changes) do
    rows[#rows + 1] = { c.queue_name, { status = c.status }, c.members_assigned, c.skills_assigned,
      #c.validation_corrections, c.flow_node_updated and "yes" or "no" }
  end
  -- (each queue's id is in its own section below)
  out[#out + 1] = { "table", { "Queue", "Status", "Members", "Skills", "Corrections", "Flow nodes updated" }, rows }
  for _, c in ipairs(doc.changes) do
    out[#out + 1] = { "section" }
    queue_blocks(c, out)
    out[#out + 1] = { "end" }
  end
  if #doc.flows > 0 then
    out[#out + 1] = { "h", 2, "Flows", id = "flows" }
    local frows = {}
    for _, f in ipairs(doc.flows) do
      local saved = f.saved_version ~= nil and f.saved_version ~= json.null
      frows[#frows + 1] = { f.name or "", { code = f.id }, { status = f.status },
        f.left_locked and { status = "failed", text = "LEFT LOCKED" } or "no", version(f.old_version),
        { after = version(f.new_version) }, saved and { status = "failed", text = version(f.saved_version) } or "",
        #f.nodes_changed, #f.queues, f.lock_waits or 0, f.conflicts or 0, f.error or f.checkin_failed or "" }
    end
    out[#out + 1] = { "table", { "Flow", "Id", "Status", "Left locked", "Old version", "New version",
      "Saved, not published", "Node edits", "Queues", "Lock waits", "Conflicts", "Problem" }, frows }
  end
  if #doc.skipped_files > 0 then
    out[#out + 1] = { "h", 2, "Skipped definition files", id = "skipped" }
    local items = {}
    for _, s in ipairs(doc.skipped_files) do
      local warned = #(s.warnings or {}) > 0 and { " (warnings: ", table.concat(s.warnings, "; "), ")" } or ""
      items[#items + 1] = { { code = s.file }, ": ", table.concat(s.errors, "; "), warned }
    end
    out[#out + 1] = { "list", items }
  end
  return out
end

-- The plain text of an inline piece (for tests and for titles).
function M.plain(piece)
  if piece == nil then return "" end
  local t = type(piece)
  if t ~= "table" then return tostring(piece) end
  if piece.code then return piece.code end
  if piece.strong then return piece.strong end
  if piece.status then return piece.text or piece.status end
  if piece.add then return piece.add end
  if piece.remove then return piece.remove end
  if piece.after then return piece.before and (piece.before .. " → " .. piece.after) or piece.after end
  local s = {}
  for _, p in ipairs(piece) do s[#s + 1] = M.plain(p) end
  return table.concat(s)
end

return M
