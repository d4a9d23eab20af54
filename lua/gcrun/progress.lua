-- A progress line on a terminal: a bar, counts by status, and the rate.
-- Off when stderr is not a terminal, under --quiet or --log-format json;
-- gcrun.log clears it before printing a line and redraws it after.
local log = require "gcrun.log"
local sys = require "gcrun.sys"

local M = {}
local P = {}
P.__index = P

function M.new(total, noun)
  local p = setmetatable({ total = total, noun = noun, done = 0, counts = {}, started = sys.clock(),
    enabled = sys.isatty("stderr") and log.level() == log.NORMAL and log.format() == "text" and total > 1 }, P)
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
end

function P:finish()
  if self.enabled then
    self:clear()
    log.set_progress(nil)
  end
end

return M
