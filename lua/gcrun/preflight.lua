-- Checks made before the first request: whatever would make a run fail
-- after it has changed the org (a report it cannot write, a dry run about
-- to replace the report of a real run) fails it before, as a usage error
-- (exit 2) with nothing sent. Option conflicts are declared with the
-- options (gcrun.options, `conflicts`); rule files are loaded before the
-- first request by the script itself.
local errors = require "gcrun.errors"
local report_files = require "gcrun.report_files"
local sys = require "gcrun.sys"

local M = {}

local function usage(fmt, ...) errors.raise("usage", fmt, ...) end

-- Reports larger than this are not read to tell a plan from an impact
-- report: they are taken for the latter.
local REPORT_READ_LIMIT = 64 * 1024 * 1024

-- What an existing report file holds: "plan" (a dry run's, which a new dry
-- run may replace), "impact" (a real run's) or nil (not a report of gcrun's).
local function kind_of(path)
  local bytes = sys.read(path, REPORT_READ_LIMIT)
  if not bytes then return "impact" end
  local kind = report_files.kind(bytes)
  if kind or require("gcrun.report").format_for(path) == "json" then return kind end
  -- the Markdown and HTML renderings say so in words
  local lower = bytes:lower()
  if lower:find("queue impact report", 1, true) then return lower:find("dry run", 1, true) and "plan" or "impact" end
  return nil
end

-- The input file path is, if it is one (gcrun's own reports are skipped as
-- input, see gcrun.definitions, and may be replaced).
local function input_named(path, inputs)
  local real = sys.realpath(path)
  if not real then return nil end
  for _, f in ipairs(require("gcrun.definitions").expand(inputs)) do
    if sys.realpath(f) == real and not report_files.default_name(f) then
      local bytes = sys.read(f, REPORT_READ_LIMIT)
      if not (bytes and report_files.kind(bytes)) then return f end
    end
  end
  return nil
end

-- Whether the report's rename over path will be refused though the
-- directory takes new files: a sticky directory (/tmp) lets only the
-- file's owner, the directory's owner or root replace a file.
local function sticky_refuses(st, dst)
  local me = sys.getuid()
  return st and me ~= 0 and (dst.mode & 512) ~= 0 and st.uid ~= me and dst.uid ~= me
end

-- report_path(path, {dry_run=, inputs=}): the report can be written at
-- path: its directory exists and takes a new file (tried, as the report's
-- own write will be), path is not a directory or other special file, not
-- one of the input files (inputs: the command line's paths), and not a
-- file the directory will not let this user replace.
function M.report_path(path, how)
  how = how or {}
  if path == "" then usage("--report needs a file name (- for stdout)") end
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
  if sticky_refuses(st, dst) then
    usage("cannot write the report %s: it belongs to another user and %s lets only its owner replace it", path, dir)
  end
  local input = st and how.inputs and input_named(path, how.inputs)
  if input then usage("--report %s would overwrite the definition file %s; name another file", path, input) end
  if how.dry_run and st then
    local kind = kind_of(path)
    if kind == "impact" then
      usage("--dry-run would replace %s, the report of a real run; name another file with --report", path)
    elseif kind == nil then
      usage("--dry-run would replace %s, which is not a report of gcrun's; name another file with --report", path)
    end
  end
end

return M
