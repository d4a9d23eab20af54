-- Small string helpers shared by the CLI and the definition checker.
local M = {}

-- Levenshtein distance, for "did you mean" suggestions.
function M.distance(a, b)
  local la, lb = #a, #b
  if la == 0 then return lb end
  if lb == 0 then return la end
  local prev, cur = {}, {}
  for j = 0, lb do prev[j] = j end
  for i = 1, la do
    cur[0] = i
    local ca = a:byte(i)
    for j = 1, lb do
      local cost = (ca == b:byte(j)) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev, cur = cur, prev
  end
  return prev[lb]
end

-- The candidate closest to word, if it is close enough to be a likely typo.
function M.closest(word, candidates)
  local best, best_d
  for _, c in ipairs(candidates) do
    local d = M.distance(word:lower(), c:lower())
    if not best_d or d < best_d then best, best_d = c, d end
  end
  if best and best_d <= math.max(2, #word // 3) then return best end
  return nil
end

-- "a, b and c"
function M.join(list, last)
  if #list <= 1 then return list[1] or "" end
  return table.concat(list, ", ", 1, #list - 1) .. " " .. (last or "and") .. " " .. list[#list]
end

function M.plural(n, word, words)
  return string.format("%d %s", n, n == 1 and word or (words or word .. "s"))
end

-- UTC ISO-8601 with milliseconds, from a time with fractions of a second.
function M.iso8601(t)
  local secs = math.floor(t)
  local ms = math.floor((t - secs) * 1000)
  return os.date("!%Y-%m-%dT%H:%M:%S", secs) .. string.format(".%03dZ", ms)
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

-- base64_decode(s) -> bytes. For the credentials of a Basic Authorization
-- header (the sandbox and test servers); characters outside the alphabet,
-- padding included, are skipped.
function M.base64_decode(s)
  s = s:gsub("[^%w%+/]", "")
  local out, bits, nbits = {}, 0, 0
  for i = 1, #s do
    bits = ((bits << 6) | (B64:find(s:sub(i, i), 1, true) - 1)) & 0xffff
    nbits = nbits + 6
    if nbits >= 8 then
      nbits = nbits - 8
      out[#out + 1] = string.char((bits >> nbits) & 0xff)
    end
  end
  return table.concat(out)
end

return M
