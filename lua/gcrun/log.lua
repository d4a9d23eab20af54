-- Human and machine output on stderr. Levels: 0 quiet (errors only),
-- 1 normal, 2 verbose, 3 trace. `--log-format json` writes one JSON object
-- a line. A progress line on a terminal is cleared before a message and
-- redrawn after it, so the two never mix.
local cjson = require "cjson"
local sys = require "gcrun.sys"
local text = require "gcrun.text"

local M = { QUIET = 0, NORMAL = 1, VERBOSE = 2, TRACE = 3 }

local state = { level = 1, format = "text", out = io.stderr, progress = nil }

function M.configure(opts)
  if opts.level then state.level = opts.level end
  if opts.format then state.format = opts.format end
  if opts.out then state.out = opts.out end
end

function M.level() return state.level end
function M.format() return state.format end
function M.enabled(level) return state.level >= level end

-- The progress display, if any: an object with clear() and redraw().
function M.set_progress(p) state.progress = p end

local function write_line(line)
  local p = state.progress
  if p then p:clear() end
  state.out:write(line, "\n")
  state.out:flush()
  if p then p:redraw() end
end

local function emit(level, name, prefix, msg, fields)
  if state.level < level then return end
  if state.format == "json" then
    local rec = { ts = text.iso8601(sys.time()), level = name, msg = msg }
    for k, v in pairs(fields or {}) do
      if rec[k] == nil then rec[k] = v end
    end
    write_line(cjson.encode(rec))
  else
    write_line(prefix .. msg)
  end
end

function M.error(msg, fields) emit(0, "error", "gcrun: ", msg, fields) end
function M.warn(msg, fields) emit(1, "warning", "gcrun: warning: ", msg, fields) end
function M.info(msg, fields) emit(1, "info", "", msg, fields) end
function M.verbose(msg, fields) emit(2, "verbose", "", msg, fields) end
function M.trace(msg, fields) emit(3, "trace", "", msg, fields) end

-- For events whose text form is a line of its own but whose JSON form
-- should carry the fields (requests, per-queue results).
function M.event(level, kind, line, fields)
  local names = { [0] = "error", "info", "verbose", "trace" }
  local f = { event = kind }
  for k, v in pairs(fields or {}) do f[k] = v end
  emit(level, names[level] or "info", "", line, f)
end

return M
