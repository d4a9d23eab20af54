-- Making API calls the same way in both dialects: a request that must
-- succeed, its answer turned into a structured error when it does not
-- (a 400 becomes "rejected", with the problems the correction rules read),
-- paging through nextUri, and counting requests, retries and 429s for the
-- queue or flow they were made for.
local errors = require "gcrun.errors"

local M = {}

function M.counters()
  return { requests = 0, retries = 0, throttled = 0, writes = 0 }
end

-- Count a response (or a transport error, which carries the same fields).
function M.count(api, r)
  local c = api.counters
  if not c or not r then return end
  local attempts = r.attempts or 1
  c.requests = c.requests + attempts
  c.retries = c.retries + math.max(0, attempts - 1)
  c.throttled = c.throttled + (r.throttled or 0)
  if r.method and r.method ~= "GET" and r.method ~= "HEAD" and r.status and r.status < 300 then
    c.writes = c.writes + 1          -- writes the service accepted
  end
end

-- The problems an error answer describes, in the form the rules match:
-- {message=, code=, field=, entity=, source="service"}.
function M.problems(resp)
  local ok, body = pcall(resp.json, resp)
  if not ok or type(body) ~= "table" then
    return { { message = string.format("HTTP %d from %s %s", resp.status, resp.method, resp.url), source = "service" } }
  end
  local list = {}
  for _, e in ipairs(type(body.errors) == "table" and body.errors or {}) do
    if type(e) == "table" and e.message then
      list[#list + 1] = { message = tostring(e.message), code = e.code, source = "service" }
    end
  end
  if #list == 0 then
    local d = type(body.details) == "table" and body.details[1] or {}
    list[1] = { message = tostring(body.message or body.error_description or ("HTTP " .. resp.status)),
      code = body.code, field = d.fieldName, entity = d.entityId, source = "service" }
  end
  return list
end

local CODES = { [400] = "rejected", [401] = "auth", [403] = "permission", [404] = "not_found", [409] = "conflict" }

-- check(api, resp, what) -> resp when 2xx, else raises
function M.check(_, resp, what)
  if resp.status >= 200 and resp.status < 300 then return resp end
  local problems = M.problems(resp)
  local first = problems[1]
  local detail = first.message
  if resp.status == 401 then
    detail = "the service refused the access token: " .. detail
  elseif resp.status == 403 then
    detail = "permission denied (the OAuth client lacks a role or scope): " .. detail
  end
  local code = CODES[resp.status] or "http"
  local gave_up = resp.gave_up and (" (" .. resp.gave_up .. ")") or ""
  error(errors.new(code, string.format("%s: HTTP %d%s: %s%s", what, resp.status,
    first.code and (" " .. first.code) or "", detail, gave_up),
    { status = resp.status, problems = problems }), 0)
end

-- send(api, req, what) -> response (any status), else raises the
-- transport error. Both are counted: an error carries the attempts and
-- 429s that came before it (a 429, then a dropped save), and the report
-- must account for every one.
function M.send(api, req, what)
  local resp, err = api.c.safe:request(req)
  if not resp then
    M.count(api, err)
    if what then err.message = string.format("%s: %s", what, err.message) end
    error(err, 0)
  end
  M.count(api, resp)
  return resp
end

-- run(api, req, what) -> response (2xx), else raises
function M.run(api, req, what)
  return M.check(api, M.send(api, req, what), what)
end

-- Every entity of a paged listing, following nextUri.
function M.pages(api, path, params, query, what)
  local q = { pageSize = 100, pageNumber = 1 }
  for k, v in pairs(query or {}) do q[k] = v end
  local out, seen = {}, {}
  local resp = M.run(api, { path = path, params = params, query = q }, what or ("GET " .. path))
  while true do
    local body = resp:json { read_only = true }
    for _, e in ipairs(body.entities or {}) do out[#out + 1] = e end
    local next_uri = body.nextUri
    if type(next_uri) ~= "string" or next_uri == "" or seen[next_uri] or #(body.entities or {}) == 0 then break end
    seen[next_uri] = true
    resp = M.run(api, { path = next_uri }, what or ("GET " .. path))
  end
  return out
end

-- Raise what the tasks of an http.parallel raised: an interrupt first,
-- then any error that is not a rejection, else all rejections as one (so
-- the rules see every problem at once).
function M.rethrow(errs)
  local keys = {}
  for i in pairs(errs) do keys[#keys + 1] = i end
  if #keys == 0 then return end
  table.sort(keys)
  for _, i in ipairs(keys) do
    if errors.is(errs[i], "interrupted") then error(errs[i], 0) end
  end
  for _, i in ipairs(keys) do
    if not errors.is(errs[i], "rejected") then error(errs[i], 0) end
  end
  local problems, messages = {}, {}
  for _, i in ipairs(keys) do
    messages[#messages + 1] = errs[i].message
    for _, p in ipairs(errs[i].problems or {}) do problems[#problems + 1] = p end
  end
  error(errors.new("rejected", table.concat(messages, "; "), { status = 400, problems = problems }), 0)
end

return M
