-- Checks made before the first request: whatever would make a run fail
-- after it has changed the org (a report it cannot write, a dry run about
-- to replace the report of a real run) fails it before, as a usage error
-- (exit 2) with nothing sent. Option conflicts are declared with the
-- options (gcrun.options, `conflicts`); rule files are loaded before the
-- first request by the script itself.
local errors = require "gcrun.errors"
local json = require "gcrun.json"
local sys = require "gcrun.sys"

local M = {}

local function usage(fmt, ...) errors.raise("usage", fmt, ...) end

-- Reports larger than this are not read to tell a plan from an impact
-- report: they are taken for the latter.
local PLAN_READ_LIMIT = 64 * 1024 * 1024

-- Whether an existing report file is the plan of a dry run (which a new
-- dry run may replace) rather than the impact report of a real run.
local function is_plan(path)
  local body = sys.read(path, PLAN_READ_LIMIT)
  if not body then return false end
  local ok, doc = pcall(json.decode, body)
  if ok and type(doc) == "table" then return type(doc.run) == "table" and doc.run.dry_run == true end
  -- the Markdown and HTML renderings say so in words
  return body:lower():find("dry run", 1, true) ~= nil
end

-- report_path(path, {dry_run=}): the report can be written at path: its
-- directory exists and takes a new file (tried, as the report's own
-- write will be), and path is not a directory or other special file.
function M.report_path(path, how)
  how = how or {}
  if path == "-" then   -- stdout holds the report alone; the lines for people go to stderr
    require("gcrun.log").configure { results = io.stderr }
    return
  end
  local st = sys.stat(path)
  if st and st.type == "directory" then usage("--report %s is a directory; name a file in it", path) end
  if st and st.type ~= "file" then usage("--report %s exists and is not a regular file", path) end
  local dir = path:match("^(.*)/[^/]*$") or "."
  if dir == "" then dir = "/" end
  local dst = sys.stat(dir)
  if not dst then usage("cannot write the report %s: the directory %s does not exist", path, dir) end
  if dst.type ~= "directory" then usage("cannot write the report %s: %s is not a directory", path, dir) end
  local f, err = sys.open_atomic(path)
  if not f then usage("cannot write the report %s: %s", path, (err or ""):gsub("^.-: ", "")) end
  f:discard()
  if how.dry_run and st and not is_plan(path) then
    usage("--dry-run would replace %s, the report of a real run; name another file with --report", path)
  end
end

return M
