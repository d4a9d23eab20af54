-- gcrun.http: HTTP clients over the C driver (gcrun.http.core), and the
-- scheduler that lets code written sequentially run as many tasks at once.
--
-- client:request{...} inside a task started by http.parallel yields to
-- the scheduler until its transfer finishes, so the other tasks' requests
-- are in flight meanwhile; outside any task it drives the transfers itself
-- until its own is done. Either way the caller just gets the response.
local core = require "gcrun.http.core"
local defaults = require "gcrun.defaults"
local errors = require "gcrun.errors"
local json = require "gcrun.json"
local log = require "gcrun.log"
local signal = require "gcrun.signal"
local sys = require "gcrun.sys"
local text = require "gcrun.text"
local timeline = require "gcrun.timeline"

local M = {}

M.versions = core.versions
M.redact = core.redact
M.encode = core.encode
M.retry_after = core.retry_after
M.body_budget = core.body_budget

---------------------------------------------------------------- scheduler

local tasks = setmetatable({}, { __mode = "k" })  -- coroutine -> task
local waiting = {}       -- transfer -> task waiting for it
local finished = {}      -- transfer -> true, once done and not yet claimed
local runnable = {}      -- tasks ready to resume, in order
local sleepers = {}      -- { until, task }
local WAIT, SLEEP, JOIN = {}, {}, {}

local function current_task()
  local co = coroutine.running()
  return tasks[co]
end

-- The driver's retry and wait lines: long waits and unreachable hosts at
-- normal verbosity (stderr), the rest under --verbose.
local function log_events(events)
  for _, e in ipairs(events) do
    if e.level <= 1 then log.warn(e.line) else log.verbose(e.line) end
  end
end

-- Run the driver once (at most `timeout` seconds) and wake whoever waits
-- for the transfers that finished.
local function step(timeout)
  local done, events = core.wait(timeout)
  log_events(events)
  for _, t in ipairs(done) do
    local task = waiting[t]
    if task then
      waiting[t] = nil
      runnable[#runnable + 1] = { task = task, value = t }
    else
      finished[t] = true
    end
  end
end

local function wake_sleepers(now)
  local i = 1
  while i <= #sleepers do
    local s = sleepers[i]
    if s[1] <= now then
      table.remove(sleepers, i)
      runnable[#runnable + 1] = { task = s[2] }
    else
      i = i + 1
    end
  end
end

local function next_sleeper(now)
  local soonest
  for _, s in ipairs(sleepers) do
    if not soonest or s[1] < soonest then soonest = s[1] end
  end
  return soonest and math.max(0, soonest - now) or -1
end

local resume_task  -- forward

local function start_tasks(group)
  while group.active < group.limit and group.next <= #group.items do
    local i = group.next
    group.next = i + 1
    group.active = group.active + 1
    local co = coroutine.create(group.fn)
    local task = { co = co, group = group, index = i }
    tasks[co] = task
    runnable[#runnable + 1] = { task = task, args = { group.items[i], i } }
  end
end

local function finish_task(task, ok, value)
  local g = task.group
  if ok then
    g.results[task.index] = value
  else
    if type(value) == "table" and value.traceback == nil and type(value.code) ~= "string" then
      value.traceback = debug.traceback(task.co, text.printable(errors.message(value)))
    elseif type(value) ~= "table" then
      value = { message = tostring(value), traceback = debug.traceback(task.co, text.printable(tostring(value))) }
    end
    g.errors[task.index] = value
    g.failed = g.failed + 1
  end
  g.active = g.active - 1
  g.done = g.done + 1
  tasks[task.co] = nil
  if g.done == #g.items then
    if g.parent then runnable[#runnable + 1] = { task = g.parent } end
  else
    start_tasks(g)
  end
end

resume_task = function(entry)
  local task = entry.task
  local ok, kind, a
  if entry.args then
    ok, kind, a = coroutine.resume(task.co, table.unpack(entry.args))
  else
    ok, kind, a = coroutine.resume(task.co, entry.value)
  end
  if not ok then
    finish_task(task, false, kind)
  elseif coroutine.status(task.co) == "dead" then
    finish_task(task, true, kind)
  elseif kind == WAIT then
    if finished[a] then
      finished[a] = nil
      runnable[#runnable + 1] = { task = task, value = a }
    else
      waiting[a] = task
    end
  elseif kind == SLEEP then
    sleepers[#sleepers + 1] = { a, task }
  elseif kind == JOIN then
    a.parent = task
  else
    finish_task(task, false, { message = "a task yielded outside gcrun.http (coroutine.yield inside parallel?)" })
  end
end

-- Run until done() is true (or the monotonic time `deadline` passes),
-- resuming tasks and driving transfers.
local function run_until(done, deadline)
  while not done() do
    if #runnable > 0 then
      local batch = runnable
      runnable = {}
      for _, entry in ipairs(batch) do resume_task(entry) end
    else
      local now = sys.clock()
      if deadline and now >= deadline then return end
      if signal.interrupted() then
        -- sleeping tasks wake now so they can see the interrupt
        for _, sl in ipairs(sleepers) do sl[1] = now end
      end
      wake_sleepers(now)
      if #runnable == 0 then
        local timeout = next_sleeper(now)
        if deadline and (timeout < 0 or timeout > deadline - now) then timeout = deadline - now end
        step(timeout)
        wake_sleepers(sys.clock())
      end
    end
  end
end

-- Wait for a transfer: yield if this is a task, else drive until done.
local function await(t)
  if current_task() then
    return coroutine.yield(WAIT, t)
  end
  run_until(function()
    if finished[t] then finished[t] = nil; return true end
    return false
  end)
  return t
end

-- parallel(items, fn [, {concurrency=N}]) -> results, errors
-- Runs fn(item, index) for every item, N at a time; results[i] is fn's
-- return value, errors[i] what it raised (the others go on).
function M.parallel(items, fn, opts)
  local group = {
    items = items, fn = fn, limit = math.max(1, (opts and opts.concurrency) or defaults.parallel),
    next = 1, active = 0, done = 0, failed = 0, results = {}, errors = {},
  }
  if #items == 0 then return group.results, group.errors end
  start_tasks(group)
  if current_task() then
    coroutine.yield(JOIN, group)
  else
    run_until(function() return group.done == #items end)
  end
  return group.results, group.errors
end

local function check_interrupt(opts)
  local sig = signal.interrupted()
  if sig and not (opts and opts.cleanup) then
    error(errors.new("interrupted", "interrupted by " .. sig), 0)
  end
end

-- A wait this long is said on stderr at normal verbosity, as the driver
-- says its long retry waits (NOTICE_WAIT in src/driver.c); shorter ones
-- under --verbose.
M.NOTICE_WAIT = 3

-- What a wait is for, said once as it begins: "<say>; waiting 4.0 s (<detail>)".
local function announce(seconds, say, detail)
  local line = string.format(seconds < 10 and "%s; waiting %.1f s%s" or "%s; waiting %.0f s%s", say, seconds,
    detail and (" (" .. detail .. ")") or "")
  if seconds >= M.NOTICE_WAIT then log.warn(line) else log.verbose(line) end
end

-- sleep(seconds [, {cleanup=true, untimed=true, reason=, say=, detail=}]): other tasks
-- and transfers go on meanwhile. A signal cuts the sleep short with an
-- "interrupted" error, except for cleanup work. `say` tells the user what
-- is waited for, `detail` how long it may go on (see announce).
function M.sleep(seconds, opts)
  check_interrupt(opts)
  if opts and opts.say then announce(math.max(0, seconds), opts.say, opts.detail) end
  local from = sys.clock()
  local until_t = from + math.max(0, seconds)
  if current_task() then
    coroutine.yield(SLEEP, until_t)
  else
    run_until(function() return signal.interrupted() ~= nil and not (opts and opts.cleanup) end, until_t)
  end
  -- a wait in the report's timeline (not the progress ticker's naps)
  if not (opts and opts.untimed) then timeline.slept(from, opts and opts.reason) end
  check_interrupt(opts)
end

---------------------------------------------------------------- responses

local Response = {}
Response.__index = Response

function Response:ok() return self.status >= 200 and self.status < 300 end

-- Memory for decoded answers: what one answer may cost decoded (an
-- estimate from its structure: Lua tables cost far more than the text
-- `[]` or `{}`), and what the Lua heap may hold with it, all answers in
-- flight together.
M.ANSWER_BUDGET = 256 * 1024 * 1024
M.HEAP_BUDGET = 1024 * 1024 * 1024

local function decoded_cost(body)
  local containers, values = core.json_cost(body)
  return #body + 96 * containers + 32 * values
end

local function check_budget(resp)
  local cost = decoded_cost(resp.body)
  local mib = function(n) return string.format("%.0f MiB", n / 1048576) end
  if cost > M.ANSWER_BUDGET then
    error(errors.new("bad_response", string.format(
      "%s %s answered HTTP %d with %s of JSON that would take about %s decoded, more than the %s "
      .. "gcrun allows one answer", resp.method, resp.url, resp.status, mib(#resp.body), mib(cost),
      mib(M.ANSWER_BUDGET)), { status = resp.status }), 3)
  end
  if collectgarbage("count") * 1024 + cost > M.HEAP_BUDGET then
    collectgarbage()
    if collectgarbage("count") * 1024 + cost > M.HEAP_BUDGET then
      error(errors.new("bad_response", string.format(
        "%s %s: decoding its answer (about %s) would take the answers held at once past %s",
        resp.method, resp.url, mib(cost), mib(M.HEAP_BUDGET)), { status = resp.status }), 3)
    end
  end
end

-- json([{read_only=true}]) -> decoded body; raises a bad_response error
-- naming the request. By default the value can be sent back unchanged
-- (empty arrays stay arrays, whole numbers are integers); read_only skips
-- that work for answers that are only read (listings, most of a run).
function Response:json(how)
  if self.body == "" then
    if self.status == 202 or self.status == 204 then return nil end
    error(errors.new("bad_response", string.format("%s %s answered HTTP %d with an empty body",
      self.method, self.url, self.status), { status = self.status }), 2)
  end
  check_budget(self)
  local v, err
  if how and how.read_only then v, err = json.decode_plain(self.body) else v, err = json.decode(self.body) end
  if v == nil then
    local ctype = self.headers["content-type"] or "no content type"
    -- redacted: an error page may echo the request's token
    local snippet = core.redact(self.body:sub(1, 200)):sub(1, 80):gsub("[%c]", " ")
    error(errors.new("bad_response", string.format(
      "%s %s answered HTTP %d with a body that is not JSON (%s; %s): %s",
      self.method, self.url, self.status, ctype, err.message, snippet), { status = self.status }), 2)
  end
  return v
end

---------------------------------------------------------------- clients

local Client = {}
Client.__index = Client

local function build_path(req)
  local path = req.path or error("request needs a path", 3)
  path = path:gsub("{([%w_]+)}", function(name)
    local v = req.params and req.params[name]
    if v == nil or v == "" then error(string.format("path %s needs params.%s", req.path, name), 4) end
    -- encoding leaves . and .. as they are, and the URL's dot segments would
    -- then name another resource (/queues/.. is /routing)
    if v == "." or v == ".." then error(string.format("path %s: params.%s may not be '%s'", req.path, name, v), 4) end
    return core.encode(tostring(v))
  end)
  local q = req.query
  if q and next(q) then
    local keys = {}
    for k in pairs(q) do keys[#keys + 1] = k end
    table.sort(keys)
    local parts = {}
    for _, k in ipairs(keys) do
      local v = q[k]
      local list = type(v) == "table" and v or { v }
      for _, x in ipairs(list) do
        parts[#parts + 1] = core.encode(k) .. "=" .. core.encode(tostring(x))
      end
    end
    path = path .. (path:find("?", 1, true) and "&" or "?") .. table.concat(parts, "&")
  end
  return path
end

local function redacted_headers(headers)
  local out = {}
  for k, v in pairs(headers or {}) do
    if k:lower() == "authorization" then v = (v:match("^(%a+)") or "") .. " ***" end
    out[#out + 1] = k .. ": " .. v
  end
  table.sort(out)
  return table.concat(out, "; ")
end

local function trace_request(req, body)
  if not log.enabled(log.TRACE) then return end
  log.trace(string.format("> %s %s [Authorization: Bearer ***%s%s]", req.method, req.url,
    req.headers and next(req.headers) and "; " or "", redacted_headers(req.headers)))
  if body then log.trace("> " .. core.redact(body)) end
end

local function log_response(resp)
  local extra = ""
  if resp.attempts > 1 then
    extra = string.format(" (%d attempts, %.1f s waiting)", resp.attempts, resp.retried_for)
  end
  log.event(log.VERBOSE, "http", string.format("%s %s -> %d in %.0f ms%s", resp.method, resp.url,
    resp.status, resp.elapsed * 1000, extra),
    { method = resp.method, url = resp.url, status = resp.status, ms = math.floor(resp.elapsed * 1000),
      attempts = resp.attempts })
  if log.enabled(log.TRACE) and resp.body ~= "" then log.trace("< " .. core.redact(resp.body)) end
end

-- The request, safe form: response | nil, err.
function Client:_request(req)
  local method = (req.method or "GET"):upper()
  local body = req.body
  local headers = req.headers
  if req.json ~= nil then
    body = json.encode(req.json, { sort = false })   -- the service does not care about key order
    headers = headers or {}
    local copy = { ["Content-Type"] = "application/json" }
    for k, v in pairs(headers) do copy[k] = v end
    headers = copy
  end
  local t = self.core:start {
    method = method, path = build_path(req), headers = headers, body = body,
    idempotent = req.idempotent, cleanup = req.cleanup, auth = req.auth,
  }
  if log.enabled(log.TRACE) then
    local info = t:info()
    trace_request({ method = method, url = info.url, headers = headers }, body)
  end
  await(t)
  local resp, err = t:result()
  if not resp then
    -- a request that never went out (its token could not be had) says so
    -- in its message; it has no attempts of its own to count
    if (err.attempts or 0) > 0 then
      log.verbose(string.format("%s (after %d attempt%s)", err.message, err.attempts,
        err.attempts == 1 and "" or "s"))
    else
      log.verbose(err.message)
    end
    return nil, err
  end
  setmetatable(resp, Response)
  log_response(resp)
  return resp
end

-- request{method=, path=, params=, query=, headers=, json= | body=,
--         idempotent=, cleanup=, auth=} -> response; raises on transport errors.
function Client:request(req)
  local resp, err = self:_request(req)
  if not resp then error(err, 2) end
  return resp
end

function Client:stats() return self.core:stats() end
function Client:close() self.core:close() end

local SafeClient = { __index = {
  request = function(s, req) return s.client:_request(req) end,
} }

-- client{base_url=, headers=, timeout=, connect_timeout=, max_attempts=,
--        max_retry_time=, max_wait=, backoff_base=, backoff_cap=,
--        concurrency=, rate=, auth=, cacert=}
function M.client(opts)
  -- the pool's size is always Lua's to say (gcrun.defaults), never C's
  if opts and opts.concurrency == nil then
    local copy = { concurrency = defaults.connections }
    for k, v in pairs(opts) do copy[k] = v end
    opts = copy
  end
  local c = setmetatable({ core = core.client(opts or { concurrency = defaults.connections }) }, Client)
  c.safe = setmetatable({ client = c }, SafeClient)
  c.base_url = opts and opts.base_url   -- absolute URLs are sent only under it (see src/http.c build_url)
  return c
end

return M
