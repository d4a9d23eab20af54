-- Making API calls the same way in both dialects: a request that must
-- succeed, its answer turned into a structured error when it does not
-- (a 400 becomes "rejected", with the problems the correction rules read),
-- the one paginator, and counting requests, retries and 429s for the
-- queue or flow they were made for.
local answers = require "gcrun.api.answers"
local defaults = require "gcrun.defaults"
local errors = require "gcrun.errors"
local problems = require "gcrun.api.problems"
local text = require "gcrun.text"
local timeline = require "gcrun.timeline"

local M = {}

function M.counters()
  return { requests = 0, retries = 0, throttled = 0, writes = 0 }
end

-- Count a response (or a transport error, which carries the same fields).
function M.count(api, r)
  local c = api.counters
  if not c or not r then return end
  timeline.record(r)                 -- the report's pictures see what is counted
  local attempts = r.attempts or 1
  c.requests = c.requests + attempts
  c.retries = c.retries + math.max(0, attempts - 1)
  c.throttled = c.throttled + (r.throttled or 0)
  if r.method and r.method ~= "GET" and r.method ~= "HEAD" and r.status and r.status < 300 then
    c.writes = c.writes + 1          -- writes the service accepted
  end
end

-- problems(resp [, req]) -> the problems an error answer describes, each
-- normalised to a kind (see gcrun.api.problems).
M.problems = problems.of

local CODES = { [400] = "rejected", [401] = "auth", [403] = "permission", [404] = "not_found", [409] = "conflict" }

-- check(api, resp, what [, req]) -> resp when 2xx, else raises
function M.check(_, resp, what, req)
  if resp.status >= 200 and resp.status < 300 then return resp end
  local list = problems.of(resp, req)
  local first = list[1]
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
    { status = resp.status, problems = list }), 0)
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
  return M.check(api, M.send(api, req, what), what, req)
end

---------------------------------------------------------------- paging

-- How many pages a listing announces: its pageCount, or total / pageSize;
-- nil when it says neither.
local function announced(body)
  local count = math.tointeger(body.pageCount)
  local total, size = math.tointeger(body.total), math.tointeger(body.pageSize)
  if not count and total and size and size > 0 then count = (total + size - 1) // size end
  if count and count >= 1 then return count end
end

-- Whether an absolute URL the service handed out (a nextUri) leaves the
-- base URL: the client refuses to send the token there (src/http.c), so it
-- is the service's answer that is wrong, not gcrun.
local function off_base(api, uri)
  local base = api.c and api.c.base_url
  if not (base and uri:match("^[hH][tT][tT][pP][sS]?://")) then return false end
  base = base:gsub("/+$", "")
  local rest = uri:sub(#base + 1, #base + 1)
  return uri:sub(1, #base) ~= base or not (rest == "" or rest == "/" or rest == "?")
end

-- pager(api, path, params, query, what [, {max_pages=, sendable=}]) ->
-- next(): the entities of the next page, or nil after the last. Follows
-- nextUri while pages come back non-empty, never the same nextUri twice,
-- no further than the page count the listing announces; a listing that
-- goes on past defaults.max_pages (or max_pages) is an error, so a service
-- handing out new nextUris for ever cannot hold a run for ever (its end
-- was never found, so what was read cannot be trusted whole).
function M.pager(api, path, params, query, what, how)
  local q = { pageSize = defaults.page_size, pageNumber = 1 }
  for k, v in pairs(query or {}) do q[k] = v end
  what = what or ("GET " .. path)
  local cap = how and how.max_pages or defaults.max_pages
  local decode = { read_only = not (how and how.sendable) }
  local req, seen, pages, count = { path = path, params = params, query = q }, {}, 0, nil
  return function()
    if not req then return nil end
    local body = answers.page(M.run(api, req, what):json(decode), what)
    pages = pages + 1
    if pages == 1 then count = announced(body) end
    local entities = body.entities or {}
    local next_uri = body.nextUri
    req = nil
    if type(next_uri) == "string" and next_uri ~= "" and not seen[next_uri] and #entities > 0
        and not (count and pages >= count) then
      if pages >= cap then errors.raise("bad_response", "%s: the listing goes on past %d pages; gave up", what, cap) end
      if off_base(api, next_uri) then
        errors.raise("bad_response", "%s: the service's answer has a nextUri that leaves %s: %s", what,
          api.c.base_url, text.shorten(next_uri, 200))
      end
      seen[next_uri] = true
      req = { path = next_uri }
    end
    return entities
  end
end

-- pages(api, path, params, query, what [, how]) -> every entity of a
-- paged listing.
function M.pages(api, path, params, query, what, how)
  local out = {}
  for entities in M.pager(api, path, params, query, what, how) do
    table.move(entities, 1, #entities, #out + 1, out)
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
  local list, messages = {}, {}
  for _, i in ipairs(keys) do
    messages[#messages + 1] = errs[i].message
    for _, p in ipairs(errs[i].problems or {}) do list[#list + 1] = p end
  end
  error(errors.new("rejected", table.concat(messages, "; "), { status = 400, problems = list }), 0)
end

return M
