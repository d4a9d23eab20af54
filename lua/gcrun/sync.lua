-- The queue-sync engine: definitions in, queues and flows in step, a
-- result record per queue and per flow out.
--
--   files -> load (checked) -> per queue: read, plan (corrections on what
--   the files and the org say), apply (corrections on 400s) -> flows (one
--   locked edit per flow, gcrun.sync_flows) -> report
--
-- Queues run `concurrency` at a time over one connection pool and rate
-- budget; output and report are in file order whatever finishes first.
-- A stop signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT) stops at the next request,
-- checks flows in and still writes the report, with status "interrupted".
local api_of = require "gcrun.api"
local correct = require "gcrun.correct"
local defaults = require "gcrun.defaults"
local definitions = require "gcrun.definitions"
local errors = require "gcrun.errors"
local http = require "gcrun.http"
local json = require "gcrun.json"
local log = require "gcrun.log"
local orgread = require "gcrun.orgread"
local output = require "gcrun.sync_output"
local preflight = require "gcrun.preflight"
local progress = require "gcrun.progress"
local queue_create = require "gcrun.queue_create"
local records = require "gcrun.result"
local report = require "gcrun.report"
local report_names = require "gcrun.report_names"
local resolve = require "gcrun.resolve"
local rollback_org = require "gcrun.rollback_org"
local session = require "gcrun.session"
local signal = require "gcrun.signal"
local sync_agents = require "gcrun.sync_agents"
local sync_check = require "gcrun.sync_check"
local sync_flows = require "gcrun.sync_flows"
local sys = require "gcrun.sys"
local text = require "gcrun.text"
local timeline = require "gcrun.timeline"

local M = {}

local function desired_of(def)
  local d = json.copy(def)
  d.findings = nil
  return d
end

local function record(rec, done)
  for _, c in ipairs(done) do rec.corrections[#rec.corrections + 1] = c end
end

local function messages(problems)
  local m = {}
  for _, p in ipairs(problems) do m[#m + 1] = p.message end
  return table.concat(m, "; ")
end

-- Correct `desired` for every problem, recording each correction; raises
-- "unresolved" when a problem no rule explains is left.
local function correct_all(rules, rec, desired, problems)
  local done, unresolved = correct.apply(rules, desired, problems)
  record(rec, done)
  if #unresolved > 0 then errors.raise("unresolved", "%s", messages(unresolved)) end
end

-- Plan, correcting what the plan finds, until the plan is clean.
function M.plan(api, rules, rec, desired, current, max)
  for _ = 0, max do
    local plan = api:plan(desired, current)
    if #plan.problems == 0 then return plan end
    correct_all(rules, rec, desired, plan.problems)
  end
  errors.raise("unresolved", "still finding problems after %d corrections", max)
end

-- queue(ctx, rec): one queue, start to finish; fills in its record.
function M.queue(ctx, rec)
  local def = rec.def
  local api = ctx.api:scope()
  rec.counters = api.counters
  local desired = desired_of(def)
  correct_all(ctx.rules, rec, desired, def.findings)
  resolve.check(def)
  local current = def.create and queue_create.start(ctx, api, rec, desired) or api:read(def)
  rec.queue_name = rec.queue_name or current.queue.name
  local before = json.copy(current)
  rec.current, rec.before = current, before
  local plan = M.plan(api, ctx.rules, rec, desired, current, ctx.max_corrections)
  records.note(rec, plan, desired)
  if ctx.dry_run then
    rec.status = plan.empty and "unchanged" or "planned"
    rec.plan = plan
    return
  end
  -- (a queue just created was written: updated, though nothing is left to do)
  if plan.empty then rec.status = api.counters.writes > 0 and "updated" or "unchanged"; return end
  local corrections = 0
  while true do
    local ok, err = pcall(api.execute, api, def.queue_id, plan, current)
    if ok then break end
    if not errors.is(err, "rejected") or corrections >= ctx.max_corrections then error(err, 0) end
    -- the problems no rule explains stay in err's message if nothing is left to retry
    local done = correct.apply(ctx.rules, desired, err.problems or {})
    if #done == 0 then error(err, 0) end
    record(rec, done)
    corrections = corrections + 1
    plan = M.plan(api, ctx.rules, rec, desired, current, ctx.max_corrections)
    if plan.empty then break end
  end
  -- report what changed from the state read to the state written (a
  -- correction can leave nothing to do: only accepted writes count)
  records.note(rec, api:outcome(before, current), desired)
  rec.status = api.counters.writes > 0 and "updated" or "unchanged"
  -- grouped: the agents' skills are sent once per agent after every queue (gcrun.sync_agents)
  if api.assign_skills and api.opts.group_skills and #plan.skill_assignments > 0 then
    rec.pending_skills = plan.skill_assignments
  end
end

-- load(paths, keep_going) -> definitions, skipped files ({file=, errors=})
-- Raises "input" when a file is invalid, unless keep_going.
function M.load(paths, keep_going, opts)
  local defs, errs, warnings = definitions.load_all(paths, opts)
  for _, w in ipairs(warnings) do log.warn(definitions.format_error(w)) end
  local skipped = {}
  if #errs == 0 then return defs, skipped end
  local by_file, warned = {}, definitions.by_file(warnings)
  for _, e in ipairs(errs) do
    log.error(definitions.format_error(e))
    if not by_file[e.file] then
      by_file[e.file] = {}
      skipped[#skipped + 1] = { file = e.file, errors = by_file[e.file], warnings = warned[e.file] }
    end
    table.insert(by_file[e.file], e.field ~= "" and (e.field .. ": " .. e.reason) or e.reason)
  end
  if not keep_going then
    errors.raise("input", "%s invalid; nothing was sent (--keep-going skips invalid files)",
      text.plural(#skipped, "definition file is", "definition files are"))
  end
  log.warn(string.format("skipping %s", text.plural(#skipped, "invalid file")))
  return defs, skipped
end

-- The exit status a finished run calls for (see queue-sync --help).
function M.exit_status(run, doc)
  if run.status == "interrupted" then return signal.exit_status() end
  local c = doc.run.counts
  -- a flow left out of step fails the run as a queue would
  -- so do skipped files (--keep-going): the run did not apply all it was given
  if (c.failed or 0) == 0 then return (doc.run.flows_failed > 0 or #doc.skipped_files > 0) and 1 or 0 end
  for _, rec in ipairs(run.queues) do
    if rec.status == "failed" and (rec.error_code == "auth" or rec.error_code == "permission") then return 3 end
  end
  return 1
end

-- What a finished queue keeps: what its flows and the plan's printing
-- need, not the state read.
local function settle(ctx, rec)
  local current = rec.current
  if not current then return end
  rec.consumers, rec.final_name = current.flows, current.queue and current.queue.name
  report_names.note(rec, ctx.names.skills)
  for id, a in pairs(current.agents or {}) do ctx.names.users[id] = a.name end
  for _, m in ipairs(current.members or {}) do ctx.names.users[m.id] = ctx.names.users[m.id] or m.name end
  for _, f in ipairs(current.flows or {}) do ctx.names.flows[f.id] = f.name end
  rec.current = nil
end

-- Every queue, then every flow; fills run.queues and run.flows.
local function sync_all(ctx, run)
  timeline.phase("prepare")
  local prep = ctx.api:scope()
  prep:prepare()
  run.extra_counters = prep.counters
  if not ctx.dry_run then run.org = rollback_org.read(prep) end
  local bar = progress.new(#run.queues, "queues", ctx.client)
  local printed = 0
  ctx.names = { users = {}, skills = ctx.api:skills() or {}, flows = {} }
  resolve.for_run(prep, ctx, run)   -- names in the files become ids, with a few bulk reads
  local function finished(rec)
    rec.timestamp = text.iso8601(sys.time())
    rec.finished = true
    bar:step(rec.status)
    while printed < #run.queues and run.queues[printed + 1].finished do
      printed = printed + 1
      local r = run.queues[printed]
      output.queue(r)
      if ctx.dry_run and r.plan then output.plan(r, r.plan, ctx.names) end
    end
  end
  progress.run(bar, function()
    timeline.phase("queues")
    -- bulk reads for a window of queues, then their work, window by window
    for _, window in ipairs(orgread.windows(run.queues, defaults.read_window)) do
      orgread.prefetch(prep, window, run.queues)
      http.parallel(window, function(rec)
        local ok, err = pcall(M.queue, ctx, rec)
        if not ok then
          records.failed(rec, err)
          if rec.status == "failed" and log.debug() and type(err) == "table" and err.traceback then
            log.verbose(err.traceback)
          end
        end
        settle(ctx, rec)
        if not rec.pending_skills then finished(rec) end
      end, { concurrency = ctx.concurrency })
    end
    timeline.phase("agents")
    sync_agents.sync(ctx, run.queues, prep, finished)
    bar:finish()
    timeline.phase("flows")
    if ctx.flows and not signal.interrupted() then run.flows = sync_flows.sync(ctx, run.queues) end
  end)
end

-- run(settings) -> exit status. settings: {paths=, dry_run=, report=,
-- format=, concurrency=, max_corrections=, keep_going=, flows = true|false,
-- extra_flows = {id...}, force_unlock=, lock_wait=, rules = FILE,
-- check = true: a dry run whose exit status says whether the org drifted}
function M.run(s)
  if #s.paths == 0 then errors.raise("usage", "queue-sync needs definition files or directories (see --help)") end
  local started = sys.time()
  local dialect = session.dialect()
  -- absent keys are untouched, unless the tutorial's defaults are asked
  -- for (the tutorial dialect implies them: its PUT replaces everything)
  local defs, skipped = M.load(s.paths, s.keep_going, { strict = s.strict, ids_only = dialect == "tutorial",
    defaults = s.defaults or (dialect == "tutorial" and "tutorial" or nil) })
  preflight.report_path(s.report, { dry_run = s.dry_run, inputs = s.paths })
  local rules = correct.load(s.rules)
  local concurrency = s.concurrency or defaults.concurrency
  -- a queue fans out to a dozen requests at once (PUT, members, one skills
  -- call per agent), so the pool allows that many in flight per queue task
  local client = session.client { concurrency = math.min(defaults.pool_max,
    math.max(defaults.pool_min, concurrency * defaults.pool_per_queue)) }
  local api = api_of.new(dialect, client, { force_unlock = s.force_unlock, lock_wait = s.lock_wait,
    group_skills = true, find_flows = s.flows ~= false })
  local run = { started_at = started, dialect = dialect, target = session.target(), dry_run = s.dry_run,
    version = session.version(), queues = {}, flows = {}, skipped = skipped, status = "completed" }
  run.timeline = timeline.start()
  local ctx = { api = api, client = client, rules = rules, dry_run = s.dry_run, concurrency = concurrency,
    flows = s.flows ~= false,
    no_create = s.no_create,
    max_corrections = s.max_corrections or defaults.max_corrections, extra_flows = s.extra_flows or {} }
  for _, def in ipairs(defs) do run.queues[#run.queues + 1] = records.queue(def) end
  log.info(string.format("queue-sync: %s, %s API, %d at a time%s", text.plural(#defs, "definition"), dialect,
    concurrency, s.dry_run and ", dry run (no writes)" or ""))

  local ok, err = pcall(sync_all, ctx, run)
  if not ok then
    if not (errors.is(err, "interrupted") or signal.interrupted()) then
      run.status = "failed"
      run.finished_at = sys.time()
      -- the run's error is in the report; the summary and --output json still print
      run.error = errors.message(err)
      local wrote, doc, path = pcall(report.write, run, s.report, s.format)
      if wrote then output.summary(doc, path); log.document(doc) end
      error(err, 0)
    end
    run.status = "interrupted"
  end
  if signal.interrupted() then
    run.status = "interrupted"
    log.warn("interrupted: queues not finished are marked so in the report")
  end
  run.finished_at = sys.time()
  if s.check then run.check = sync_check.drift(run) end
  local doc, path = report.write(run, s.report, s.format)
  output.summary(doc, path)
  log.document(doc)
  if s.check then return sync_check.finish(run, M.exit_status(run, doc)) end
  return M.exit_status(run, doc)
end

return M
