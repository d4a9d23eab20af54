-- Everything gcrun prints goes through here, on two streams: results
-- (per-queue lines, the plan, the summary: the events of RESULTS) on
-- stdout, diagnostics (warnings, progress, retries, errors) on stderr, so
-- `> file` keeps the results and a terminal still shows what goes wrong.
-- Levels: 0 quiet (errors, warnings and the summary: --quiet hides what
-- went as planned, never what may be wrong), 1 normal, 2 verbose, 3 trace.
-- `--log-format json` writes one JSON object a line. With a script's
-- `--output json`, stdout gets the run's document (document()) and
-- nothing else: the result lines move to stderr. Every line is made
-- printable (gcrun.text.printable) here, whatever it quotes. A progress
-- line on a terminal is cleared before a message and redrawn after it, so
-- the two never mix.
local cjson = require "cjson"
local sys = require "gcrun.sys"
local text = require "gcrun.text"

local M = { QUIET = 0, NORMAL = 1, VERBOSE = 2, TRACE = 3 }

-- The event kinds that are results, and the level from which each shows:
-- the summary shows even under --quiet.
local RESULTS = { queue = 1, correction = 1, flow = 1, plan = 1, summary = 0 }

local state = { level = 1, format = "text", out = io.stderr, results = io.stdout, output = "text",
  debug = false, progress = nil }

function M.configure(opts)
  if opts.level then state.level = opts.level end
  if opts.format then state.format = opts.format end
  if opts.out then state.out = opts.out end
  if opts.results then state.results = opts.results end
  if opts.output then state.output = opts.output end
  if opts.debug ~= nil then state.debug = opts.debug end
end

function M.level() return state.level end
function M.format() return state.format end
function M.enabled(level) return state.level >= level end
-- --debug: Lua locations and tracebacks in messages (see gcrun.errors)
function M.debug() return state.debug end

-- The progress display, if any: an object with clear() and redraw().
function M.set_progress(p) state.progress = p end

local function write_line(stream, line)
  local p = state.progress
  if p then p:clear() end
  stream:write(line, "\n")
  stream:flush()
  if p then p:redraw() end
end

local function printable_fields(rec)
  for k, v in pairs(rec) do
    if type(v) == "string" then rec[k] = text.printable(v) end
  end
  return rec
end

local function emit(level, name, prefix, msg, fields, stream)
  if state.level < level then return end
  stream = stream or state.out
  if state.format == "json" then
    local rec = { ts = text.iso8601(sys.time()), level = name, msg = msg }
    for k, v in pairs(fields or {}) do
      if rec[k] == nil then rec[k] = v end
    end
    write_line(stream, cjson.encode(printable_fields(rec)))
  else
    write_line(stream, prefix .. text.printable(msg))
  end
end

-- The stream results go to: stdout, unless stdout is for the document.
local function results_stream()
  return state.output == "json" and state.out or state.results
end

function M.error(msg, fields) emit(0, "error", "gcrun: ", msg, fields) end
function M.warn(msg, fields) emit(0, "warning", "gcrun: warning: ", msg, fields) end
function M.info(msg, fields) emit(1, "info", "", msg, fields) end
function M.verbose(msg, fields) emit(2, "verbose", "", msg, fields) end
function M.trace(msg, fields) emit(3, "trace", "", msg, fields) end

-- For events whose text form is a line of its own but whose JSON form
-- should carry the fields (requests, per-queue results). Events of a
-- result kind go to the results stream.
function M.event(level, kind, line, fields)
  local names = { [0] = "error", "info", "verbose", "trace" }
  local f = { event = kind }
  for k, v in pairs(fields or {}) do f[k] = v end
  local stream
  if RESULTS[kind] then
    level = math.min(level, RESULTS[kind])
    stream = results_stream()
  end
  emit(level, names[level] or "info", "", line, f, stream)
end

-- A multi-line text for people that gcrun itself wrote (a traceback under
-- --debug): each line made printable, on stderr.
function M.block(s)
  write_line(state.out, text.printable_lines((s:gsub("\t", "    "))))
end

-- document(doc): under --output json, the run's document on stdout.
function M.document(doc)
  if state.output ~= "json" then return end
  local json = require "gcrun.json"
  state.results:write(json.encode(doc, { pretty = true }), "\n")
  state.results:flush()
end

return M
