-- A test server that answers each path with a canned body, as a hostile or
-- broken service might (a queue as a JSON array, invalid UTF-8 in a
-- message), and lists what it was asked at /seen.
-- args.routes: { ["METHOD /path"] or ["/path"] = { status=, body= | hex= } }
-- (hex: the body's bytes in hex, for bytes that JSON args cannot carry)
local cjson = require "cjson"

local M = {}

function M.new(args)
  return setmetatable({ routes = args.routes or {}, seen = {} }, { __index = M })
end

local JSON = { ["Content-Type"] = "application/json" }

function M:handle(req)
  if req.path == "/seen" then return 200, JSON, cjson.encode(self.seen) end
  self.seen[#self.seen + 1] = req.method .. " " .. req.path
  local r = self.routes[req.method .. " " .. req.path] or self.routes[req.path]
  if not r then
    return 404, JSON, cjson.encode { message = "no route " .. req.path, code = "not.found", status = 404 }
  end
  local body = r.body or (r.hex or ""):gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end)
  return r.status or 200, JSON, body
end

return M
