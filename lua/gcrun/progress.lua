-- A progress line on a terminal: a bar, counts by status, and the rate.
-- Off when stderr is not a terminal, under --quiet or --log-format json;
-- gcrun.log clears it before printing a line and redraws it after.
-- When stderr is not a terminal (CI, a log file), a plain line instead,
-- at most every 10 s: done/total, requests sent, and any wait for the
-- rate window, so a long run is never silent (also under --log-format
-- json, as a "progress" event).
local log = require "gcrun.log"
local signal = require "gcrun.signal"
local sys = require "gcrun.sys"

local M = {}
local P = {}
P.__index = P

-- seconds between plain lines
M.EVERY = 10

-- new(total, noun [, client]): client (a gcrun.http client) tells the
-- requests sent and the rate waits for the plain lines.
function M.new(total, noun, client)
  local tty = sys.isatty("stderr")
  local p = setmetatable({ total = total, noun = noun, done = 0, counts = {}, started = sys.clock(),
    enabled = tty and log.level() == log.NORMAL and log.format() == "text" and total > 1,
    plain = not tty and log.level() >= log.NORMAL and total > 0, client = client }, P)
  p.last_plain = p.started
  if p.enabled then
    log.set_progress(p)
    p:redraw()
  end
  return p
end

function P:line()
  local width = 24
  local filled = self.total > 0 and math.floor(width * self.done / self.total) or width
  local elapsed = math.max(sys.clock() - self.started, 1e-3)
  local parts = {}
  for _, k in ipairs { "updated", "unchanged", "planned", "failed" } do
    if self.counts[k] then parts[#parts + 1] = k .. " " .. self.counts[k] end
  end
  return string.format("[%s%s] %d/%d %s  %.1f/s  %s", string.rep("#", filled), string.rep(".", width - filled),
    self.done, self.total, self.noun, self.done / elapsed, table.concat(parts, ", "))
end

function P:clear()
  if self.enabled then io.stderr:write("\r\27[K") end
end

function P:redraw()
  if self.enabled then
    io.stderr:write(self:line())
    io.stderr:flush()
  end
end

function P:step(status)
  self.done = self.done + 1
  self.counts[status] = (self.counts[status] or 0) + 1
  self:clear()
  self:redraw()
  self:tick()
end

local function thousands(n)
  local s = tostring(math.floor(n))
  while true do
    local k
    s, k = s:gsub("^(%d+)(%d%d%d)", "%1,%2")
    if k == 0 then return s end
  end
end

-- The plain line: "120/500 queues done, 812 requests sent", or while the
-- client holds requests for the budget "waiting 23 s for the rate window,
-- 812 requests sent (120/500 queues done)".
function P:plain_line()
  local stats = self.client and self.client:stats() or {}
  local n = stats.requests
  local sent = n and string.format(", %s request%s sent", thousands(n), n == 1 and "" or "s") or ""
  local done = string.format("%d/%d %s done", self.done, self.total, self.noun)
  local hold = stats.rate_hold or 0
  if hold >= 1 then
    return string.format("waiting %.0f s for the rate window%s (%s)", hold, sent, done),
      { done = self.done, total = self.total, requests = stats.requests, waiting_seconds = math.ceil(hold) }
  end
  return done .. sent, { done = self.done, total = self.total, requests = stats.requests }
end

-- tick(): a plain line when one is due.
function P:tick()
  if not self.plain then return end
  local now = sys.clock()
  if now - self.last_plain < M.EVERY then return end
  self.last_plain = now
  local line, fields = self:plain_line()
  log.event(log.NORMAL, "progress", line, fields)
end

-- run(p, fn): fn() with a task beside it that ticks ten times a second, so a
-- plain line comes also while nothing finishes (a long wait for the rate
-- window). Returns or raises what fn does.
function M.run(p, fn)
  if not p.plain then return fn() end
  local http = require "gcrun.http"
  local finished = false
  local results, errs = http.parallel({ 1, 2 }, function(i)
    if i == 1 then
      local ok, result = pcall(fn)
      finished = true
      if not ok then error(result, 0) end
      return result
    end
    -- short naps, so the run ends within a tenth of a second of its work
    -- (a one-second nap held every run open for up to a second); tick()
    -- prints only when a line is due
    while not finished and not signal.interrupted() do
      http.sleep(0.1, { cleanup = true, untimed = true })
      p:tick()
    end
  end, { concurrency = 2 })
  if errs[1] then error(errs[1], 0) end
  return results[1]
end

function P:finish()
  if self.enabled then
    self:clear()
    log.set_progress(nil)
  end
end

return M
