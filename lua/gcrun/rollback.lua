-- queue-rollback: undo what a queue-sync run (or another rollback) changed,
-- from its JSON impact report.
--
--   report -> checks (a real run, this org, the platform dialect) -> read
--   what the report names -> compare with the report's after-values
--   (gcrun.rollback_plan) -> restore queues (one full PUT that keeps what
--   gcrun does not manage, members, ring numbers), agents' skills, flows
--   (the locked edit: checkout, save, publish, checkin) -> its own report
--
-- The rollback's report is an impact report like queue-sync's, so a
-- rollback can itself be rolled back.
local api_of = require "gcrun.api"
local apply = require "gcrun.rollback_apply"
local defaults = require "gcrun.defaults"
local errors = require "gcrun.errors"
local http = require "gcrun.http"
local json = require "gcrun.json"
local log = require "gcrun.log"
local out = require "gcrun.rollback_output"
local plans = require "gcrun.rollback_plan"
local preflight = require "gcrun.preflight"
local progress = require "gcrun.progress"
local records = require "gcrun.result"
local report = require "gcrun.report"
local session = require "gcrun.session"
local signal = require "gcrun.signal"
local sys = require "gcrun.sys"
local text = require "gcrun.text"

local M = {}

local REPORT_LIMIT = 256 * 1024 * 1024

-- load(path) -> the report's document; raises "input" naming the file.
function M.load(path)
  local body, err = sys.read(path, REPORT_LIMIT)
  if not body then errors.raise("input", "cannot read the report %s: %s", path, err) end
  local ok, doc = pcall(json.decode, body)
  if not ok or type(doc) ~= "table" or type(doc.run) ~= "table" then
    errors.raise("input", "%s: not a JSON impact report of queue-sync or queue-rollback (no run record; "
      .. "roll back from the .json report, not its Markdown or HTML rendering)", path)
  end
  return doc
end

-- check(doc, path, dialect): what makes a report one this rollback can undo.
function M.check(doc, path, dialect)
  local run = doc.run
  if dialect ~= "platform" then
    errors.raise("usage", "queue-rollback speaks the platform dialect only: the tutorial API has no way to remove "
      .. "a member or a skill, so it cannot undo a run (leave out --api %s)", dialect)
  end
  if run.dry_run == true then
    errors.raise("input", "%s is the plan of a dry run: it changed nothing, so there is nothing to roll back", path)
  end
  if run.dialect ~= nil and run.dialect ~= "platform" then
    errors.raise("input", "%s: run.dialect: the run spoke the %s dialect; only platform runs can be rolled back",
      path, tostring(run.dialect))
  end
  if type(run.org_id) ~= "string" then
    errors.raise("input", "%s: run.org_id: the report does not say which org it changed (written by a gcrun "
      .. "older than queue-rollback, or the org could not be read), so it cannot be rolled back safely", path)
  end
end

-- The org signed in to must be the one the report changed.
local function same_org(api, doc, path)
  local org = api:organization()
  if org.id ~= doc.run.org_id then
    errors.raise("input", "%s is a report of org %s (%s); this is org %s (%s): refused", path, doc.run.org_id,
      doc.run.org_name or "?", org.id, org.name or "?")
  end
  return org
end

---------------------------------------------------------------- records

-- What a queue's plan writes, in the report's vocabulary (so that the
-- rollback's report can be rolled back in turn).
local function note_queue(rec, p)
  for _, f in ipairs(p.fields) do
    rec.fields_changed[#rec.fields_changed + 1] = { field = f.field, before = f.from, after = f.to }
  end
  for _, r in ipairs(p.remove) do
    rec.members_removed[#rec.members_removed + 1] = r.member
    rec.removed_rings[#rec.removed_rings + 1] = { member = r.member, before = r.ring }
  end
  for _, a in ipairs(p.add) do
    rec.members_added[#rec.members_added + 1] = a.member
    if a.ring ~= 1 then rec.ring_changes[#rec.ring_changes + 1] = { member = a.member, before = 1, after = a.ring } end
  end
  for _, r in ipairs(p.rings) do
    rec.ring_changes[#rec.ring_changes + 1] = { member = r.member, before = r.from, after = r.to }
  end
end

local function note_agent(rec, p)
  local skills = {}
  for _, s in ipairs(p.set) do
    skills[#skills + 1] = { id = s.id, level = s.to, before = s.from, added = s.from == nil or nil }
  end
  for _, d in ipairs(p.delete) do skills[#skills + 1] = { id = d.id, level = 0, removed = true, before = d.from } end
  if #skills > 0 then
    rec.skill_assignments[#rec.skill_assignments + 1] = { user = p.target.user, name = p.target.name, skills = skills }
  end
end

local function queue_record(t)
  local rec = records.plan()
  rec.problems, rec.desired = nil, nil
  rec.queue_id, rec.queue_name, rec.file, rec.created = t.id, t.name, t.file, t.created or nil
  rec.status, rec.corrections, rec.flows, rec.differences = "not_started", {}, {}, {}
  return rec
end

local function differ(rec, what, list)
  for _, d in ipairs(list) do
    rec.differences[#rec.differences + 1] = { what = what and (what .. ": " .. d.what) or d.what,
      expected = d.expected, found = d.found }
  end
end

-- A record's status from what happened to its queue and its agents.
local function status_of(rec, s)
  if rec.error then return rec.status end
  if rec.deleted then return "deleted" end
  if s.wrote then return "updated" end
  if s.planned then return "planned" end
  if s.conflict then return "conflict" end
  if s.kept then return "kept" end
  return "unchanged"
end

---------------------------------------------------------------- the run

local function rollback_all(ctx, run, t)
  local by_queue = {}
  for i, qt in ipairs(t.queues) do
    local rec = queue_record(qt)
    run.queues[i] = rec
    by_queue[qt.id] = { rec = rec, s = {} }
  end
  -- read and compare every queue
  local read, errs = http.parallel(t.queues, function(qt)
    local api = ctx.api:scope()
    local entry = by_queue[qt.id]
    entry.rec.counters, entry.api = api.counters, api
    if qt.deleted then return { target = qt, status = "deleted", differences = {} } end
    if not qt.created and #qt.fields + #qt.added + #qt.removed + #qt.rings == 0 then
      -- nothing of the queue itself to restore (its agents' skills, maybe):
      -- no need to read it, nor to find it still there
      return { target = qt, status = "unchanged", differences = {} }
    end
    local now = apply.read_queue(api, qt.id)
    entry.now = now
    if qt.created and now then return { target = qt, status = "created", differences = {} } end
    return plans.queue(qt, now, ctx.force)
  end, { concurrency = ctx.concurrency })
  local qplans = {}
  for i, qt in ipairs(t.queues) do
    if errs[i] then
      if errors.is(errs[i], "interrupted") then error(errs[i], 0) end
      records.failed(by_queue[qt.id].rec, errs[i])
    else
      qplans[#qplans + 1] = read[i]
    end
  end
  -- agents: one read for all, then each compared
  local extra = ctx.prep
  local ids = {}
  for _, a in ipairs(t.agents) do ids[#ids + 1] = a.user end
  local agents = #ids > 0 and extra:agents(ids) or {}
  local aplans = {}
  for i, a in ipairs(t.agents) do aplans[i] = plans.agent(a, agents[a.user], ctx.force) end
  local fnow, ferrs = http.parallel(t.flows, function(ft) return { apply.read_flow(extra, ft.id) } end,
    { concurrency = ctx.concurrency })
  local fplans = {}
  for i, ft in ipairs(t.flows) do
    if ferrs[i] then
      if errors.is(ferrs[i], "interrupted") then error(ferrs[i], 0) end
      fplans[i] = { target = ft, status = "failed", error = ferrs[i], differences = {} }
    else
      fplans[i] = plans.flow(ft, fnow[i][1], ctx.force)
    end
  end
  if signal.interrupted() then errors.raise("interrupted", "interrupted") end

  -- queues
  local bar = progress.new(#qplans + #aplans, "queues and agents")
  local function step(p, rec)
    bar:step(rec.error and "failed" or p.status ~= "revert" and "unchanged" or ctx.dry_run and "planned" or "updated")
  end
  http.parallel(qplans, function(p)
    local entry = by_queue[p.target.id]
    local rec, s = entry.rec, entry.s
    local _ <close> = setmetatable({}, { __close = function() step(p, rec) end })   -- however it ends
    differ(rec, nil, p.differences)
    if p.status == "conflict" or p.status == "gone" then s.conflict = true end
    if p.status == "created" then
      out.created(rec, ctx.delete_created)
      s.kept = true
      if not ctx.delete_created then return end
      local ok, err = pcall(apply.delete_created, entry.api, rec, ctx.dry_run)
      if not ok then records.failed(rec, err) elseif ctx.dry_run and not rec.kept_for then s.planned = true end
      return
    end
    if p.status == "deleted" then
      out.not_restorable(rec)
      return
    end
    if p.status ~= "revert" then return end
    note_queue(rec, p)
    if ctx.dry_run then s.planned = true; return end
    local ok, err = pcall(apply.queue, entry.api, p, entry.now)
    s.wrote = true
    if not ok then records.failed(rec, err) end
  end, { concurrency = ctx.concurrency })

  -- agents' skills
  http.parallel(aplans, function(p)
    local entry = by_queue[p.target.queue]
    local rec, s = entry.rec, entry.s
    local _ <close> = setmetatable({}, { __close = function() step(p, rec) end })   -- however it ends
    differ(rec, "agent " .. p.target.user, p.differences)
    if p.status == "conflict" or p.status == "gone" then s.conflict = true end
    if p.status ~= "revert" then return end
    note_agent(rec, p)
    if ctx.dry_run then s.planned = true; return end
    local api = ctx.api:scope()
    local ok, err = pcall(apply.agent, api, p)
    for k, v in pairs(api.counters) do extra.counters[k] = extra.counters[k] + v end
    s.wrote = true
    if not ok then records.failed(rec, err) end
  end, { concurrency = ctx.concurrency })

  bar:finish()
  for _, qt in ipairs(t.queues) do
    local entry = by_queue[qt.id]
    local rec = entry.rec
    rec.status = status_of(rec, entry.s)
    rec.forced = ctx.force
    rec.timestamp = text.iso8601(sys.time())
    out.queue(rec)
  end
  if signal.interrupted() then errors.raise("interrupted", "interrupted") end

  -- flows, each under the lock protocol
  run.flows = http.parallel(fplans, function(p)
    local api = ctx.api:scope()
    local r = records.flow(p.target.id, api.counters)
    r.name, r.differences = p.target.name, p.differences
    if p.status == "failed" then
      records.failed(r, p.error)
    elseif p.status ~= "revert" then
      r.status = (p.status == "conflict" or p.status == "gone") and "conflict" or "unchanged"
    else
      local nodes = {}
      nodes.edit = function(config) return plans.restore_nodes(config, p.target, ctx.force) end
      local ok, res = pcall(api.edit_flow, api, p.target.id, nodes, { dry_run = ctx.dry_run })
      if ok then
        res.differences = p.differences
        r = res
      else
        records.failed(r, res)
        r.checkin_failed = type(res) == "table" and res.checkin_failed or nil
      end
    end
    r.queues = {}
    local seen = {}
    for _, c in ipairs(p.target.nodes) do
      if c.queue and not seen[c.queue] then seen[c.queue] = true; r.queues[#r.queues + 1] = c.queue end
    end
    return r
  end, { concurrency = ctx.concurrency })
  for _, r in ipairs(run.flows) do out.flow(r) end
end

-- The exit status: 0 all rolled back (or nothing to do), 1 something
-- failed or was left alone as a conflict, 3 auth, 130 interrupted.
function M.exit_status(run)
  if run.status == "interrupted" then return signal.exit_status() end
  local status = 0
  for _, rec in ipairs(run.queues) do
    if rec.status == "failed" and (rec.error_code == "auth" or rec.error_code == "permission") then return 3 end
    if rec.status == "failed" or rec.status == "interrupted" or (#(rec.differences or {}) > 0 and not run.force) then
      status = 1
    end
  end
  for _, f in ipairs(run.flows) do
    if f.status == "failed" or f.status == "conflict" or f.status == "interrupted" or f.checkin_failed then
      status = 1
    end
  end
  return status
end

-- run(settings) -> exit status. settings: {source = REPORT, dry_run=,
-- force=, delete_created=, report=, format=, concurrency=, force_unlock=,
-- lock_wait=}
function M.run(s)
  local started = sys.time()
  local doc = M.load(s.source)
  local dialect = session.dialect()
  M.check(doc, s.source, dialect)
  if sys.realpath(s.report) and sys.realpath(s.report) == sys.realpath(s.source) then
    errors.raise("usage", "--report %s is the report being rolled back; name another file", s.report)
  end
  local targets = plans.targets(doc, s.source)
  preflight.report_path(s.report, { dry_run = s.dry_run })
  if doc.run.status == "interrupted" or doc.run.status == "failed" then
    log.info(string.format("the run of %s was %s: rolling back what it did", s.source, doc.run.status))
  end
  local concurrency = s.concurrency or defaults.concurrency
  local client = session.client { concurrency = math.min(defaults.pool_max,
    math.max(defaults.pool_min, concurrency * defaults.pool_per_queue)) }
  local api = api_of.new(dialect, client, { force_unlock = s.force_unlock, lock_wait = s.lock_wait })
  local run = { started_at = started, dialect = dialect, target = session.target(), dry_run = s.dry_run,
    version = session.version(), queues = {}, flows = {}, status = "completed", kind = "rollback",
    rollback_of = s.source, force = s.force }
  -- what is read once (the org, the agents, the flows) is counted with the run
  local prep = api:scope()
  run.extra_counters = prep.counters
  run.org = same_org(prep, doc, s.source)
  local ctx = { api = api, prep = prep, dry_run = s.dry_run, force = s.force, delete_created = s.delete_created,
    concurrency = concurrency }
  log.info(string.format("queue-rollback of %s: %s, %s%s", s.source, text.plural(#targets.queues, "queue"),
    text.plural(#targets.flows, "flow"), s.dry_run and ", dry run (no writes)" or ""))

  local ok, err = pcall(rollback_all, ctx, run, targets)
  if not ok then
    if not (errors.is(err, "interrupted") or signal.interrupted()) then
      run.status = "failed"
      run.finished_at = sys.time()
      -- the run's error is in the report; the summary and --output json still print
      run.error = errors.message(err)
      local wrote, written, path = pcall(report.write, run, s.report, s.format)
      if wrote then out.summary(written, run, path); log.document(written) end
      error(err, 0)
    end
    run.status = "interrupted"
  end
  if signal.interrupted() then run.status = "interrupted" end
  for _, rec in ipairs(run.queues) do
    if rec.status == "not_started" and run.status == "interrupted" then rec.status = "interrupted" end
  end
  run.finished_at = sys.time()
  local written, path = report.write(run, s.report, s.format)
  out.summary(written, run, path)
  log.document(written)
  return M.exit_status(run)
end

return M
