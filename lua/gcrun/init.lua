-- The client for one-off scripts: `local gc = require "gcrun"` gives an
-- authenticated, rate-limit-aware client for the org chosen on the command
-- line (--region, --client-id, --sandbox, ...) and the environment or .env.
--
--   gc.get(path [, query])          -> decoded JSON
--   gc.put / gc.post / gc.patch (path, body [, query]), gc.delete(path)
--   gc.paginate(path [, query])     -> iterator over every entity of every page
--   gc.parallel(items, fn [, {concurrency=N}]) -> results, errors
--   gc.dry_run                      -> true under --dry-run: writes are logged, not sent
--   gc.safe.get(...) etc.           -> nil, err instead of raising
-- A failed call raises an error table {code=, status=, message=, body=}.
local call = require "gcrun.api.call"
local errors = require "gcrun.errors"
local http = require "gcrun.http"
local log = require "gcrun.log"
local session = require "gcrun.session"

local M = {}

local function api()
  return { c = (session.client()), counters = nil }
end

local function request(method, path, body, query)
  if type(path) ~= "string" then error("gcrun." .. method:lower() .. ": path must be a string", 3) end
  if method ~= "GET" and M.dry_run then
    log.info(string.format("dry run: would %s %s", method, path))
    return nil
  end
  local resp = call.run(api(), { method = method, path = path, query = query, json = body }, method .. " " .. path)
  if resp.body == "" then return nil end
  return resp:json()
end

function M.get(path, query) return request("GET", path, nil, query) end
function M.put(path, body, query) return request("PUT", path, body, query) end
function M.post(path, body, query) return request("POST", path, body, query) end
function M.patch(path, body, query) return request("PATCH", path, body, query) end
function M.delete(path, query) return request("DELETE", path, nil, query) end

-- paginate(path [, query]) -> iterator over entities, page by page, as
-- the loop asks for them (gcrun.api.call's paginator, with its page limit).
function M.paginate(path, query)
  if type(path) ~= "string" then error("gcrun.paginate: path must be a string", 2) end
  local next_page = call.pager(api(), path, nil, query, "GET " .. path, { sendable = true })
  local page, i = next_page(), 0
  return function()
    while page do
      i = i + 1
      local e = page[i]
      if e ~= nil then return e end
      page, i = next_page(), 0
    end
  end
end

M.parallel = http.parallel
M.sleep = http.sleep
M.encode = http.encode

-- The raw gcrun.http client, and a description of the org (no secrets).
function M.client() return (session.client()) end
function M.target() session.client(); return session.target() end

M.safe = setmetatable({}, { __index = function(_, name)
  local f = M[name]
  if type(f) ~= "function" then return nil end
  return function(...)
    local ok, result = pcall(f, ...)
    if ok then return result end
    return nil, result
  end
end })

return setmetatable(M, { __index = function(_, k)
  if k == "dry_run" then return session.options()["dry-run"] == true end
  return nil
end, __newindex = function(_, k) errors.raise("usage", "gcrun.%s cannot be set", tostring(k)) end })
