-- The run's timeline, for the pictures of the impact report: every
-- attempt of every request (when it ran, what came back, the rate budget
-- the answer advertised) and every wait gcrun made, from what the HTTP
-- driver recorded per attempt (resp.attempt_log). Memory stays bounded
-- however long the run: attempts are counted into at most MAX_BUCKETS time
-- buckets (the bucket width doubles, merging pairs, when the run outgrows
-- them) and each kind of wait keeps at most MAX_SPANS merged spans.
--
--   timeline.start()        the run begins (the recorder becomes active)
--   timeline.phase(name)    the engine enters a phase (prepare, queues, ...)
--   timeline.record(r)      after each counted request (gcrun.api.call)
--   timeline.slept(from [, reason])   after each sleep (gcrun.http)
--   recorder:document()     the compact series the JSON report carries
local sys = require "gcrun.sys"
local json = require "gcrun.json"
local text = require "gcrun.text"

local M = { MAX_BUCKETS = 160, FIRST_WIDTH = 1 / 256, MAX_SPANS = 300 }

-- What an attempt's answer was: the columns the picture stacks.
M.OUTCOMES = { "answered", "throttled", "server_error", "dropped" }
-- What the request was for: the lanes that show the run's phases.
M.KINDS = { "reads", "queue_writes", "skills", "flows", "other" }
-- Why gcrun waited.
M.WAITS = { "pacing", "retry_after", "backoff", "lock", "conflict", "lag", "sleep" }

local SUM_COLUMNS = { "retries", "latency_sum", "latency_n" }
for _, list in ipairs { M.OUTCOMES, M.KINDS } do table.move(list, 1, #list, #SUM_COLUMNS + 1, SUM_COLUMNS) end

local active            -- the recorder of the run in progress, if any
local last_of = setmetatable({}, { __mode = "k" })   -- coroutine -> its last answer, to name its sleeps

local R = {}
R.__index = R

function M.outcome(status)
  if not status or status == 0 then return "dropped" end
  if status == 429 then return "throttled" end
  if status >= 500 then return "server_error" end
  return "answered"
end

-- The phase a request belongs to, from its method and URL (both dialects).
function M.kind(method, url)
  local path = (url or ""):gsub("^%a+://[^/]*", ""):gsub("%?.*", "")
  if path:find("/api/v2/flows?/") then return "flows" end
  if method == "GET" or method == "HEAD" then return "reads" end
  if path:find("/routingskills", 1, true) then return "skills" end
  if path:find("/api/v2/routing/queues", 1, true) then return "queue_writes" end
  return "other"
end

function M.start(opts)
  opts = opts or {}
  local r = setmetatable({
    origin = opts.origin or sys.clock(), wall = opts.wall or sys.time(), width = opts.width or M.FIRST_WIDTH,
    max_buckets = opts.max_buckets or M.MAX_BUCKETS, max_spans = opts.max_spans or M.MAX_SPANS,
    n = 0, cols = {}, budget_left = {}, budget_allowed = {}, spans = {}, waits = {}, phases = {},
    totals = { requests = 0, answered = 0, throttled = 0, server_error = 0, dropped = 0, retries = 0 },
    last = 0,
  }, R)
  for _, c in ipairs(SUM_COLUMNS) do r.cols[c] = {} end
  for _, w in ipairs(M.WAITS) do r.spans[w] = {}; r.waits[w] = { count = 0, seconds = 0 } end
  active = r
  return r
end

function M.active() return active end

-- The run is over: what follows is not the run's.
function M.stop()
  if active then active.stopped_at = sys.clock() end
  active = nil
end

-- Twice as wide buckets, pairs merged, until index i fits.
function R:_fit(i)
  while i > self.max_buckets do
    local half = (self.n + 1) // 2
    for _, col in pairs(self.cols) do
      for j = 1, half do col[j] = (col[2 * j - 1] or 0) + (col[2 * j] or 0) end
      for j = half + 1, self.n do col[j] = nil end
    end
    local left, allowed = self.budget_left, self.budget_allowed
    for j = 1, half do
      local a, b = left[2 * j - 1], left[2 * j]
      left[j] = (a and b) and math.min(a, b) or a or b
      a, b = allowed[2 * j - 1], allowed[2 * j]
      allowed[j] = (a and b) and math.max(a, b) or a or b
    end
    for j = half + 1, self.n do left[j], allowed[j] = nil, nil end
    self.n = half
    self.width = self.width * 2
    i = (i + 1) // 2
  end
  return i
end

-- The bucket of monotonic time t (created, with the ones before it).
function R:_bucket(t)
  local rel = math.max(0, t - self.origin)
  if rel > self.last then self.last = rel end
  local i = self:_fit(math.floor(rel / self.width) + 1)
  if i > self.n then
    for _, col in pairs(self.cols) do for j = self.n + 1, i do col[j] = 0 end end
    self.n = i
  end
  return i
end

function R:_add(col, t, v)
  local i = self:_bucket(t)
  local c = self.cols[col]
  c[i] = c[i] + (v or 1)
end

-- A wait of `reason` from monotonic time a to b.
function R:wait(a, b, reason)
  if b <= a then return end
  reason = self.spans[reason] and reason or "sleep"
  self:_bucket(b)
  local w = self.waits[reason]
  w.count, w.seconds = w.count + 1, w.seconds + (b - a)
  local list = self.spans[reason]
  list[#list + 1] = { a - self.origin, b - self.origin }
  if #list > 2 * self.max_spans then self:_merge(reason) end
end

-- Sort and merge a reason's spans; beyond max_spans, close the smallest
-- gaps (a picture cannot show them anyway).
function R:_merge(reason)
  local list = self.spans[reason]
  table.sort(list, function(x, y) return x[1] < y[1] end)
  local out = {}
  for _, s in ipairs(list) do
    local prev = out[#out]
    if prev and s[1] <= prev[2] then
      if s[2] > prev[2] then prev[2] = s[2] end
    else
      out[#out + 1] = { s[1], s[2] }
    end
  end
  while #out > self.max_spans do
    local best, gap = 1, math.huge
    for i = 1, #out - 1 do
      local g = out[i + 1][1] - out[i][2]
      if g < gap then best, gap = i, g end
    end
    out[best][2] = math.max(out[best][2], out[best + 1][2])
    table.remove(out, best + 1)
  end
  self.spans[reason] = out
end

function R:phase(name)
  local now = sys.clock() - self.origin
  local prev = self.phases[#self.phases]
  if prev and not prev.to then prev.to = now end
  self.phases[#self.phases + 1] = { name = name, from = now }
end

local function attempt(self, a, kind, index)
  local outcome = M.outcome(a.status)
  local t = a.start
  self:_add(outcome, t)
  self:_add(kind, t)
  local tot = self.totals
  tot.requests = tot.requests + 1
  tot[outcome] = tot[outcome] + 1
  if index > 1 then
    self:_add("retries", t)
    tot.retries = tot.retries + 1
  end
  if a.finish and a.finish > 0 then
    self:_bucket(a.finish)
    if a.status ~= 0 then
      self:_add("latency_sum", t, a.finish - a.start)
      self:_add("latency_n", t)
    end
    if a.ratelimit_allowed and a.ratelimit_count then
      local i = self:_bucket(a.finish)
      local left = math.max(0, a.ratelimit_allowed - a.ratelimit_count)
      local l, al = self.budget_left[i], self.budget_allowed[i]
      self.budget_left[i] = l and math.min(l, left) or left
      self.budget_allowed[i] = al and math.max(al, a.ratelimit_allowed) or a.ratelimit_allowed
    end
    if a.wait then self:wait(a.finish, a.finish + a.wait, a.retry_after and "retry_after" or "backoff") end
  end
  if a.held then self:wait(a.start - a.held, a.start, "pacing") end
end

-- Whether a request may have changed the org (see report.keeping_audit):
-- any but a read, a search (a POST that reads) or logging in.
local function changes_org(r)
  if not r.method or r.method == "GET" or r.method == "HEAD" then return false end
  local path = (r.url or ""):gsub("^%a+://[^/]*", ""):gsub("%?.*", "")
  return not (path:find("/search$") or path:find("/oauth/", 1, true))
end

-- record(r): a response or transport error of gcrun.http, every attempt.
function R:record(r)
  local log = r.attempt_log or {}
  local kind = M.kind(r.method, r.url)
  if changes_org(r) then self.writes_sent = (self.writes_sent or 0) + 1 end
  for i, a in ipairs(log) do attempt(self, a, kind, i) end
  -- attempts the driver could not note (out of memory) still count
  local now = sys.clock()
  for i = #log + 1, r.attempts or #log do
    attempt(self, { start = now, finish = now, status = r.status or 0 }, kind, i)
  end
  local co = coroutine.running()
  last_of[co] = { url = r.url or "", status = r.status }
end

function M.record(r)
  if active and r then active:record(r) end
end

function M.phase(name)
  if active then active:phase(name) end
end

-- What a sleep that gave no reason was for: the answer the same task
-- had just before it (a checkout answered 409 is a lock held by another
-- user, another 409 a stale version; a 404 is the service catching up).
local function sleep_reason()
  local last = last_of[coroutine.running()]
  if not last then return "sleep" end
  if last.status == 409 and last.url:find("/flows/actions/checkout", 1, true) then return "lock" end
  if last.status == 409 then return "conflict" end
  if last.status == 404 then return "lag" end
  return "sleep"
end

-- slept(from [, reason]): a sleep that began at monotonic time `from`
-- has just ended.
function M.slept(from, reason)
  if active then active:wait(from, sys.clock(), reason or sleep_reason()) end
end

local function ms(x) return math.floor(x * 1000 + 0.5) / 1000 end

-- document() -> the timeline as the JSON report carries it: columns of
-- per-bucket counts (series), merged wait spans, phases, totals. Times in
-- seconds from the start of the run.
function R:document()
  local stop = (self.stopped_at or sys.clock())
  self:_bucket(stop)
  local duration = math.max(self.last, stop - self.origin)
  local series = {}
  for _, c in ipairs(SUM_COLUMNS) do
    if c ~= "latency_sum" and c ~= "latency_n" then
      local col = json.array({})
      for i = 1, self.n do col[i] = self.cols[c][i] end
      series[c] = col
    end
  end
  local latency, left, allowed = json.array({}), json.array({}), json.array({})
  for i = 1, self.n do
    local n = self.cols.latency_n[i]
    latency[i] = n > 0 and math.floor(self.cols.latency_sum[i] / n * 1000 + 0.5) or json.null
    left[i] = self.budget_left[i] or json.null
    allowed[i] = self.budget_allowed[i] or json.null
  end
  series.latency_ms, series.budget_left, series.budget_allowed = latency, left, allowed
  local waits = json.array({})
  local wait_totals = {}
  for _, reason in ipairs(M.WAITS) do
    self:_merge(reason)
    local covered = 0
    for _, s in ipairs(self.spans[reason]) do
      waits[#waits + 1] = { reason = reason, from = ms(s[1]), to = ms(s[2]) }
      covered = covered + (s[2] - s[1])
    end
    local w = self.waits[reason]
    if w.count > 0 then
      wait_totals[reason] = { count = w.count, seconds = ms(w.seconds), covered_seconds = ms(covered) }
    end
  end
  local phases = json.array({})
  for _, p in ipairs(self.phases) do
    phases[#phases + 1] = { name = p.name, from = ms(p.from), to = ms(p.to or duration) }
  end
  local totals = {}
  for k, v in pairs(self.totals) do totals[k] = v end
  totals.waits = wait_totals
  return {
    started_at = text.iso8601(self.wall), duration_seconds = ms(duration), bucket_seconds = self.width,
    buckets = self.n, series = series, waits = waits, phases = phases, totals = totals,
  }
end

return M
