-- Structured errors: tables with code, message and whatever the failure
-- knows (status, file, field, response). The host turns `exit` or the code
-- into the process status; tostring gives the message.
local M = {}

-- Exit statuses by error code (DESIGN.md "Errors, output, secrets").
M.exit_codes = { usage = 2, input = 2, auth = 3, permission = 3, interrupted = 130 }

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

-- A message for any error value.
function M.message(e)
  if type(e) == "table" then
    local s = e.message or e.code
    if s then return tostring(s) end
  end
  return tostring(e)
end

return M
