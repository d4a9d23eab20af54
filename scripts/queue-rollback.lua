-- gcrun queue-rollback: undo a queue-sync run from its JSON impact report.
-- The engine is gcrun.rollback; this script declares the command.
local defaults = require "gcrun.defaults"
local errors = require "gcrun.errors"

local function main(opts, args)
  if #args ~= 1 then
    errors.raise("usage", "queue-rollback needs one report: the JSON impact report of the run to undo (see --help)")
  end
  -- required here: --help reads the declaration without the engine
  local rollback = require "gcrun.rollback"
  return rollback.run {
    source = args[1], dry_run = opts["dry-run"], force = opts.force, delete_created = opts["delete-created"],
    report = opts.report, format = opts.format, concurrency = opts.concurrency,
    force_unlock = opts["force-unlock"], lock_wait = opts["lock-wait"],
  }
end

local function between(lo, hi)
  return function(v)
    if v < lo or v > hi then return nil, string.format("must be from %d to %d", lo, hi) end
    return v
  end
end

return {
  description = "Undo what a queue-sync run changed, from its JSON impact report",
  usage = "REPORT",
  help = [[REPORT is the JSON impact report of a queue-sync run (or of a rollback, which
undoes the rollback). Queue settings, members and their ring numbers, agents'
skills and flows' Queue nodes go back to their values before the run. What
changed since the run is left alone and shown as a conflict (--force rolls it
back anyway). Queues the run created are listed, not deleted, unless
--delete-created. The rollback writes its own impact report. Exit status: 0
all rolled back, 1 some failed or were left alone as conflicts, 2 invalid
input or usage (a dry run's report, another org's report; nothing sent), 3
authentication or permission failure, 4 the service cannot be reached,
128 + N stopped by signal N (SIGINT 130), flows checked in and the report
written.]],
  options = {
    { "dry-run", "read the org and print the rollback plan; send no write" },
    { "force", "roll back what changed since the run too (overwriting those changes)" },
    { "delete-created", "delete the queues the run created" },
    { "report=FILE", "where to write the rollback's impact report (or its plan)",
      default = "rollback_impact_report.json", default_if = { ["dry-run"] = "rollback_plan_report.json" } },
    { "format=FMT", "report format (default: from the report file's extension)", choices = { "json", "md", "html" } },
    { "concurrency=N", "queues and flows processed at once", type = "integer", default = defaults.concurrency,
      check = between(1, 64) },
    { "force-unlock", "break a flow lock held by someone else instead of waiting" },
    { "lock-wait=S", "seconds to wait for a flow locked by someone else", type = "number",
      default = defaults.lock_wait },
    { "output=FMT", "stdout gets the lines for people, or the report's JSON and nothing else",
      choices = { "text", "json" }, default = "text" },
  },
  main = main,
}
