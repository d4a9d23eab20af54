-- gcrun's own report files, told from everything else: so that a report
-- left in a folder of definitions is not read as one on the next run, and
-- a dry run knows a plan (which it may replace) from the impact report of
-- a real run or a file that is no report at all.
local json = require "gcrun.json"

local M = {}

-- The default report names (and the failed-run report written beside an
-- impact report, see sync.lua): queue_impact_report.* and queue_plan_report.*
function M.default_name(path)
  -- both names hold "_report.": most paths (thousands of definitions) stop here
  if not path:find("_report.", 1, true) then return false end
  local base = path:match("([^/]*)$")
  return base:match("^queue_impact_report%.") ~= nil or base:match("^queue_plan_report%.") ~= nil
end

-- The JSON report is written pretty with sorted keys (gcrun.json): when a
-- report is too deep for the decoder (a queue's pass-through keys can
-- nest), its layout still says what it is.
local function by_layout(bytes)
  local run_at = bytes:find('\n  "run": {\n', 1, true)
  if not (run_at and bytes:find('\n  "generated_at": "', 1, true)) then return nil end
  local version = bytes:find('\n    "gcrun_version": "', run_at, true)
  if not version then return nil end
  local dry = bytes:match('\n    "dry_run": (%a+),', run_at)
  return { dry_run = dry == "true" }
end

-- kind(bytes) -> "plan" | "impact" | nil: whether bytes are a JSON report
-- of gcrun's, a dry run's plan or a real run's impact report. A report has
-- a top-level `run` object with the gcrun_version that wrote it.
function M.kind(bytes)
  if not bytes:find('"gcrun_version"', 1, true) then return nil end
  local ok, doc = pcall(json.decode, bytes)
  local run
  if ok and doc ~= nil then
    run = type(doc) == "table" and type(doc.run) == "table" and type(doc.run.gcrun_version) == "string"
      and type(doc.generated_at) == "string" and doc.run or nil
  else
    run = by_layout(bytes)
  end
  if not run then return nil end
  return run.dry_run == true and "plan" or "impact"
end

return M
