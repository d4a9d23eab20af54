-- gcrun queue-sync: apply queue definition files to Genesys Cloud.
--
--   files -> definitions.load_all -> [checked] -> read + plan -> apply
--   (corrections on 400) -> flows (one locked edit per flow) -> report
--
-- Nothing is sent unless every file is valid (or --keep-going skips the
-- invalid ones). A queue already as defined gets no write. Queues run
-- --concurrency at a time over one connection pool and rate budget; the
-- output and the report are in the order of the files whatever finishes
-- first. Ctrl-C stops at the next request, checks flows in and still
-- writes the report, with status "interrupted".
local correct = require "gcrun.correct"
local definitions = require "gcrun.definitions"
local errors = require "gcrun.errors"
local http = require "gcrun.http"
local json = require "gcrun.json"
local log = require "gcrun.log"
local output = require "gcrun.sync_output"
local preflight = require "gcrun.preflight"
local progress = require "gcrun.progress"
local report = require "gcrun.report"
local session = require "gcrun.session"
local signal = require "gcrun.signal"
local sys = require "gcrun.sys"
local text = require "gcrun.text"

local function desired_of(def)
  local d = json.copy(def)
  d.findings = nil
  return d
end

local function record(entry, done)
  for _, c in ipairs(done) do entry.corrections[#entry.corrections + 1] = c end
end

local function messages(problems)
  local m = {}
  for _, p in ipairs(problems) do m[#m + 1] = p.message end
  return table.concat(m, "; ")
end

-- Plan, correcting what the plan finds, until the plan is clean.
local function plan_with_corrections(api, rules, entry, desired, current, max)
  for _ = 0, max do
    local plan = api:plan(desired, current)
    if #plan.problems == 0 then return plan end
    local done, unresolved = correct.apply(rules, desired, plan.problems)
    record(entry, done)
    if #unresolved > 0 then errors.raise("unresolved", "%s", messages(unresolved)) end
  end
  errors.raise("unresolved", "still finding problems after %d corrections", max)
end

local function note_plan(entry, plan, desired)
  entry.changes, entry.members_added, entry.members_removed = plan.changes, plan.add, plan.remove
  entry.ring_changes, entry.skill_assignments = plan.rering, plan.assign
  entry.queue_name = desired.name
  entry.skills_assigned, entry.members_assigned = #desired.skills, #desired.members
end

-- One queue, start to finish; fills in `entry`.
local function sync_queue(ctx, entry)
  local def = entry.def
  local api = ctx.api:scope()
  entry.counters = api.counters
  local desired = desired_of(def)
  local done, unresolved = correct.apply(ctx.rules, desired, def.findings)
  record(entry, done)
  if #unresolved > 0 then errors.raise("unresolved", "%s", messages(unresolved)) end
  local current = api:read(def)
  local before = json.copy(current)
  entry.current = current
  local plan = plan_with_corrections(api, ctx.rules, entry, desired, current, ctx.max_corrections)
  note_plan(entry, plan, desired)
  if ctx.dry_run then
    entry.status = plan.empty and "unchanged" or "planned"
    entry.plan = plan
    return
  end
  if plan.empty then entry.status = "unchanged"; return end
  local corrections = 0
  while true do
    local ok, err = pcall(api.execute, api, def.queue_id, plan, current)
    if ok then break end
    if not errors.is(err, "rejected") or corrections >= ctx.max_corrections then error(err, 0) end
    -- the problems no rule explains stay in err's message if nothing is left to retry
    done = correct.apply(ctx.rules, desired, err.problems or {})
    if #done == 0 then error(err, 0) end
    record(entry, done)
    corrections = corrections + 1
    plan = plan_with_corrections(api, ctx.rules, entry, desired, current, ctx.max_corrections)
    if plan.empty then break end
  end
  -- report what changed from the state read to the state written (a
  -- correction can leave nothing to do: only accepted writes count)
  note_plan(entry, api:outcome(before, current), desired)
  entry.status = api.counters.writes > 0 and "updated" or "unchanged"
end

-- Agents' skills belong to the agent, not to a queue: two definitions that
-- give one agent the same skill at different levels would undo each other
-- on every run. The highest level wins, in every run, with a warning.
local function skill_levels(defs)
  local asked = {}   -- agent -> skill -> { level = highest, files = {file = level} }
  for _, def in ipairs(defs) do
    for _, m in ipairs(def.members) do
      asked[m.id] = asked[m.id] or {}
      for _, s in ipairs(def.skills) do
        local a = asked[m.id][s.id] or { level = s.level, files = {} }
        asked[m.id][s.id] = a
        a.files[def.file] = s.level
        if s.level > a.level then a.level = s.level end
      end
    end
  end
  local levels, conflicts = {}, {}
  for agent, skills in pairs(asked) do
    for skill, a in pairs(skills) do
      local distinct = {}
      for _, l in pairs(a.files) do distinct[l] = true end
      if next(distinct, next(distinct)) then
        levels[agent] = levels[agent] or {}
        levels[agent][skill] = a.level
        local parts = {}
        for file, l in pairs(a.files) do parts[#parts + 1] = string.format("%s from %s", l, file) end
        table.sort(parts)
        conflicts[#conflicts + 1] = string.format("agent %s gets skill %s at levels %s: %s is used for all",
          agent, skill, table.concat(parts, ", "), a.level)
      end
    end
  end
  table.sort(conflicts)
  for i, c in ipairs(conflicts) do
    if i > 10 then
      log.warn(string.format("... and %d more agents' skills asked at different levels (-v lists them)",
        #conflicts - 10))
      for j = 11, #conflicts do log.verbose(conflicts[j]) end
      break
    end
    log.warn(c)
  end
  return levels
end

-- Which flows route to which queues: dependency tracking, the files'
-- `flows`, and --flow. Queues that failed are left out: their nodes keep
-- naming the queue as it still is.
local function flow_work(ctx, entries)
  local by_flow, order = {}, {}
  local function add(flow_id, entry)
    local list = by_flow[flow_id]
    if not list then list = {}; by_flow[flow_id] = list; order[#order + 1] = flow_id end
    for _, q in ipairs(list) do if q.id == entry.queue_id then return end end
    local name = entry.final_name
    if ctx.dry_run then name = entry.queue_name end
    list[#list + 1] = { id = entry.queue_id, name = name, entry = entry }
  end
  for _, e in ipairs(entries) do
    if e.status == "updated" or e.status == "unchanged" or e.status == "planned" then
      for _, f in ipairs(e.consumers or {}) do add(f.id, e) end
      for _, f in ipairs(e.def.flows) do add(f, e) end
      for _, f in ipairs(ctx.extra_flows) do add(f, e) end
    end
  end
  return by_flow, order
end

local function sync_flows(ctx, entries)
  local by_flow, order = flow_work(ctx, entries)
  local results = http.parallel(order, function(flow_id)
    local api = ctx.api:scope()
    local ok, r = pcall(api.edit_flow, api, flow_id, by_flow[flow_id], { dry_run = ctx.dry_run })
    if not ok then
      local status = errors.is(r, "interrupted") and "interrupted" or "failed"
      r = { id = flow_id, status = status, error = errors.message(r), changes = {}, counters = api.counters,
        checkin_failed = type(r) == "table" and r.checkin_failed or nil }
    end
    r.queues = {}
    for _, q in ipairs(by_flow[flow_id]) do r.queues[#r.queues + 1] = q.id end
    return r
  end, { concurrency = ctx.concurrency })
  local flows = {}
  for i, flow_id in ipairs(order) do
    local r = results[i]
    flows[#flows + 1] = r
    for _, q in ipairs(by_flow[flow_id]) do
      local e = q.entry
      e.flows[#e.flows + 1] = r
      for _, c in ipairs(r.changes or {}) do
        if c.queue == e.queue_id and r.status == "updated" then e.flow_node_updated = true end
      end
    end
    output.flow(r)
  end
  return flows
end

local function exit_status(run, doc)
  if run.status == "interrupted" then return signal.exit_status() end
  local c = doc.run.counts
  -- a flow left out of step fails the run as a queue would
  -- so do skipped files (--keep-going): the run did not apply all it was given
  if (c.failed or 0) == 0 then return (doc.run.flows_failed > 0 or #doc.skipped_files > 0) and 1 or 0 end
  for _, e in ipairs(run.queues) do
    if e.status == "failed" and (e.error_code == "auth" or e.error_code == "permission") then return 3 end
  end
  return 1
end

local function main(opts, paths)
  if #paths == 0 then errors.raise("usage", "queue-sync needs definition files or directories (see --help)") end
  local started = sys.time()
  local defs, errs, warnings = definitions.load_all(paths)
  for _, w in ipairs(warnings) do log.warn(w) end
  local skipped = {}
  if #errs > 0 then
    local by_file = {}
    for _, e in ipairs(errs) do
      log.error(definitions.format_error(e))
      if not by_file[e.file] then
        by_file[e.file] = {}
        skipped[#skipped + 1] = { file = e.file, errors = by_file[e.file] }
      end
      table.insert(by_file[e.file], e.field ~= "" and (e.field .. ": " .. e.reason) or e.reason)
    end
    if not opts["keep-going"] then
      errors.raise("input", "%s invalid; nothing was sent (--keep-going skips invalid files)",
        text.plural(#skipped, "definition file is", "definition files are"))
    end
    log.warn(string.format("skipping %s", text.plural(#skipped, "invalid file")))
  end
  preflight.report_path(opts.report, { dry_run = opts["dry-run"] })
  local rules = correct.load(opts.rules)
  -- a queue fans out to a dozen requests at once (PUT, members, one skills
  -- call per agent), so the pool allows a dozen in flight per queue task
  local client = session.client { concurrency = math.min(256, math.max(32, opts.concurrency * 12)) }
  local dialect = session.dialect()
  local api_mod = require("gcrun.api." .. dialect)
  local api = api_mod.new(client, { force_unlock = opts["force-unlock"], lock_wait = opts["lock-wait"],
    skill_levels = skill_levels(defs) })
  local run = { started_at = started, dialect = dialect, target = session.target(), dry_run = opts["dry-run"],
    version = session.version(), queues = {}, flows = {}, skipped = skipped, status = "completed" }
  local ctx = { api = api, rules = rules, dry_run = opts["dry-run"], max_corrections = opts["max-corrections"],
    concurrency = opts.concurrency, extra_flows = opts.flow }
  for _, def in ipairs(defs) do
    run.queues[#run.queues + 1] = { def = def, file = def.file, queue_id = def.queue_id, queue_name = def.name,
      status = "not_started", corrections = {}, flows = {}, timestamp = nil }
  end
  log.info(string.format("queue-sync: %s, %s API, %d at a time%s", text.plural(#defs, "definition"), dialect,
    opts.concurrency, opts["dry-run"] and ", dry run (no writes)" or ""))

  local ok, err = pcall(function()
    local prep = api:scope()
    prep:prepare()
    run.extra_counters = prep.counters
    local bar = progress.new(#run.queues, "queues")
    local printed = 0
    local function print_ready()
      while printed < #run.queues and run.queues[printed + 1].finished do
        printed = printed + 1
        local e = run.queues[printed]
        output.queue(e)
        if ctx.dry_run and e.plan then output.plan(e, e.plan, ctx.names) end
      end
    end
    ctx.names = { users = {}, skills = api:skills() or {} }
    http.parallel(run.queues, function(entry)
      local qok, qerr = pcall(sync_queue, ctx, entry)
      if not qok then
        entry.status = errors.is(qerr, "interrupted") and "interrupted" or "failed"
        entry.error, entry.error_code = errors.message(qerr), type(qerr) == "table" and qerr.code or nil
        if entry.status == "failed" and log.debug() and type(qerr) == "table" and qerr.traceback then
          log.verbose(qerr.traceback)
        end
      end
      local current = entry.current
      if current then
        -- keep what the flows and the plan's printing need, not the state read
        entry.consumers, entry.final_name = current.flows, current.queue and current.queue.name
        if ctx.dry_run then
          for id, a in pairs(current.agents or {}) do ctx.names.users[id] = a.name end
          for _, m in ipairs(current.members or {}) do ctx.names.users[m.id] = ctx.names.users[m.id] or m.name end
        end
        entry.current = nil
      end
      entry.timestamp = text.iso8601(sys.time())
      entry.finished = true
      bar:step(entry.status)
      print_ready()
    end, { concurrency = opts.concurrency })
    bar:finish()
    if not opts["no-flows"] and not signal.interrupted() then run.flows = sync_flows(ctx, run.queues) end
  end)
  if not ok then
    if errors.is(err, "interrupted") or signal.interrupted() then
      run.status = "interrupted"
    else
      run.status = "failed"
      run.finished_at = sys.time()
      pcall(report.write, run, opts.report, opts.format)
      error(err, 0)
    end
  end
  if signal.interrupted() then
    run.status = "interrupted"
    log.warn("interrupted: queues not finished are marked so in the report")
  end
  run.finished_at = sys.time()
  local doc = report.write(run, opts.report, opts.format)
  output.summary(doc, opts.report)
  log.document(doc)
  return exit_status(run, doc)
end

return {
  description = "Apply queue definition files to Genesys Cloud and report the impact",
  usage = "PATH...",
  help = [[PATH is a queue definition file or a directory of *.json files (see gcrun(1) for
the format). Every file is checked before anything is sent. Exit status: 0 all
queues converged, 1 some failed or files were skipped, 2 invalid input or
usage (nothing sent), 3 authentication or permission failure, 4 the service
cannot be reached, 130 interrupted.]],
  options = {
    { "dry-run", "read the org and print the plan; send no write" },
    { "report=FILE", "where to write the impact report (or the plan)", default = "queue_impact_report.json",
      default_if = { ["dry-run"] = "queue_plan_report.json" } },
    { "format=FMT", "report format (default: from the report file's extension)", choices = { "json", "md", "html" } },
    { "concurrency=N", "queues processed at once", type = "integer", default = 4,
      check = function(v) if v < 1 or v > 64 then return nil, "must be from 1 to 64" end return v end },
    { "max-corrections=N", "correction rounds per queue before giving up", type = "integer", default = 3,
      check = function(v) if v < 0 then return nil, "must be 0 or more" end return v end },
    { "keep-going", "skip invalid definition files instead of sending nothing" },
    { "flow=ID", "also keep this flow's queue nodes in step (repeatable)", multiple = true },
    { "no-flows", "leave flows alone", conflicts = { "flow" } },
    { "force-unlock", "break a flow lock held by someone else instead of waiting" },
    { "lock-wait=S", "seconds to wait for a flow locked by someone else", type = "number", default = 60 },
    { "rules=FILE", "correction rules to use instead of the bundled ones" },
    { "output=FMT", "stdout gets the lines for people, or the report's JSON and nothing else",
      choices = { "text", "json" }, default = "text" },
  },
  main = main,
}
