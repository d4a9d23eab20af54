-- Checks for the sandbox's settings as command-line options take them,
-- shared by `gcrun sandbox` and the common --rate/--latency of `--sandbox`.
local M = {}

function M.probability(v)
  local p = tonumber(v)
  if not p or p < 0 or p > 1 then return nil, "expects a probability between 0 and 1" end
  return p
end

-- "300/min" or "300" -> 300
function M.rate(v)
  local n = tonumber(tostring(v):match("^(%d+)/min$") or v)
  if not n or n < 1 or math.type(n) ~= "integer" then return nil, "expects requests a minute, like 300/min" end
  return n
end

function M.faults(v)
  local faults = {}
  for item in v:gmatch("[^,]+") do
    local kind, p = item:match("^%s*(%w+)%s*=%s*([%d.]+)%s*$")
    if not kind or not ({ ["503"] = true, drop = true, ["429"] = true })[kind] then
      return nil, string.format("has an entry '%s'; expected 503=P, drop=P or 429=P", item)
    end
    local prob = M.probability(p)
    if not prob then return nil, string.format("has %s=%s; P must be between 0 and 1", kind, p) end
    faults[kind] = prob
  end
  return faults
end

-- a latency in milliseconds, 0 to 60000
function M.latency(v)
  local n = math.tointeger(tonumber(v))
  if not n or n < 0 or n > 60000 then return nil, "expects milliseconds from 0 to 60000" end
  return n
end

return M
