-- Structured errors: tables with code, message and whatever the failure
-- knows (status, file, field, response). The host turns `exit` or the code
-- into the process status; tostring gives the message.
local M = {}

-- Exit statuses by error code (DESIGN.md "Errors, output, secrets").
M.exit_codes = { usage = 2, input = 2, auth = 3, permission = 3, unreachable = 4, interrupted = 130 }

-- The one error class: the metatable the host registers in C, so an error
-- raised by a native module and one made here are alike (getmetatable).
local mt = require "gcrun.errors.class"

function M.new(code, message, fields)
  local e = fields or {}
  e.code, e.message = code, message
  return setmetatable(e, mt)
end

-- raise(code, fmt, ...) raises without position information: the message
-- is for the user, not a pointer into gcrun's sources.
function M.raise(code, fmt, ...)
  error(M.new(code, string.format(fmt, ...)), 0)
end

function M.is(e, code)
  return type(e) == "table" and e.code == code
end

-- The exit status an error calls for.
function M.exit_status(e)
  if type(e) == "table" then
    return e.exit or M.exit_codes[e.code] or 1
  end
  return 1
end

-- --debug (set by the CLI): keep Lua locations in messages.
M.debug = false

-- A Lua error raised in gcrun's own code carries where it happened
-- (".../lua/gcrun/http.lua:319: attempt to index a number value"), which
-- tells a user nothing they can act on: without --debug the location goes
-- and the message says it is gcrun's fault. gcrun's own code is its
-- library (lua/gcrun/ in any root) and the bundled scripts; locations in
-- the user's own scripts and rule files stay.
local function bundled_script(shown)
  local ok, sys = pcall(require, "gcrun.sys")
  local datadir = ok and sys.datadir()
  if not datadir then return false end
  local name = shown:match("scripts/([%w_%-]+%.lua)$")
  if not name then return false end
  local full = datadir .. "/scripts/" .. name
  -- Lua shortens long chunk names to "..." and their tail
  return shown == full or (shown:sub(1, 3) == "..." and full:sub(-(#shown - 3)) == shown:sub(4))
end

local function internal(shown)
  return shown:find("lua/gcrun/[%w_/]+%.lua$") ~= nil or bundled_script(shown)
end

local function for_users(s)
  if M.debug then return s end
  local first = s:match("^(%S+%.lua):%d+: ")
  local was_internal = first ~= nil and internal(first)
  s = s:gsub("(%S+%.lua):%d+: ", function(shown)
    if internal(shown) then return "" end
  end)
  if was_internal then s = "internal error: " .. s .. " (--debug shows where; please report it)" end
  return s
end

-- A message for any error value.
function M.message(e)
  if type(e) == "table" then
    local s = e.message or e.code
    if s then return for_users(tostring(s)) end
  end
  return for_users(tostring(e))
end

return M
