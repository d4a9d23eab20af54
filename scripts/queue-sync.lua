-- gcrun queue-sync: apply queue definition files to Genesys Cloud. The
-- engine is gcrun.sync; this script declares the command and its options.
local defaults = require "gcrun.defaults"

local function main(opts, paths)
  -- both would write to stdout, one inside the other
  if opts.report == "-" and opts.output == "json" then
    require("gcrun.errors").raise("usage", "--report - and --output json cannot be used together " ..
      "(both write to stdout; give --report a file)")
  end
  -- required here: --help and --list read the declaration without the engine
  local sync = require "gcrun.sync"
  return sync.run {
    paths = paths,
    dry_run = opts["dry-run"] or opts.check, check = opts.check,
    report = opts.report, format = opts.format,
    concurrency = opts.concurrency, max_corrections = opts["max-corrections"],
    keep_going = opts["keep-going"],
    flows = not opts["no-flows"], extra_flows = opts.flow,
    force_unlock = opts["force-unlock"], lock_wait = opts["lock-wait"],
    rules = opts.rules,
    defaults = opts.defaults, strict = opts.strict, no_create = opts["no-create"],
  }
end

local function between(lo, hi)
  return function(v)
    if v < lo or (hi and v > hi) then
      return nil, hi and string.format("must be from %d to %d", lo, hi) or string.format("must be %d or more", lo)
    end
    return v
  end
end

return {
  description = "Apply queue definition files to Genesys Cloud and report the impact",
  usage = "PATH...",
  help = [[PATH is a queue definition file or a directory of *.json files (see gcrun(1) for
the format). Every file is checked before anything is sent. Exit status: 0 all
queues converged, 1 some failed or files were skipped, 2 invalid input or
usage (nothing sent), 3 authentication or permission failure, 4 the service
cannot be reached, 128 + N stopped by signal N (SIGINT 130, SIGTERM 143,
SIGHUP 129, SIGQUIT 131), flows checked in and the report written. With
--check: 0 the org matches the definitions, 5 it has drifted, 1 the check
failed.]],
  options = {
    { "dry-run", "read the org and print the plan; send no write" },
    { "check", "a dry run for pipelines: exit 0 when the org matches the definitions, 5 when it has drifted" },
    { "report=FILE", "where to write the impact report or the plan (- for stdout)",
      default = "queue_impact_report.json",
      default_if = { ["dry-run"] = "queue_plan_report.json", check = "queue_plan_report.json" } },
    { "format=FMT", "report format (default: from the report file's extension)", choices = { "json", "md", "html" } },
    { "concurrency=N", "queues processed at once", type = "integer", default = defaults.concurrency,
      check = between(1, 64) },
    { "max-corrections=N", "correction rounds per queue before giving up", type = "integer",
      default = defaults.max_corrections, check = between(0) },
    { "keep-going", "skip invalid definition files instead of sending nothing" },
    { "strict", "an unknown key in a definition file is an error, not a warning" },
    { "defaults=SET", "fill the keys a file leaves out with the tutorial's defaults (else they are untouched;"
      .. " --api tutorial implies it)", choices = { "tutorial" } },
    { "no-create", "fail a definition whose queue does not exist instead of creating it" },
    { "flow=ID", "also keep this flow's queue nodes in step (repeatable)", multiple = true },
    { "no-flows", "leave flows alone", conflicts = { "flow" } },
    { "force-unlock", "break a flow lock held by someone else instead of waiting" },
    { "lock-wait=S", "seconds to wait for a flow locked by someone else", type = "number",
      default = defaults.lock_wait, check = between(0) },
    { "rules=FILE", "correction rules to use instead of the bundled ones" },
    { "output=FMT", "stdout gets the lines for people, or the report's JSON and nothing else",
      choices = { "text", "json" }, default = "text" },
  },
  main = main,
}
