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
-- The distance is at least the difference in length, so candidates too
-- short or too long are never measured: a 900 KB word costs nothing.
function M.closest(word, candidates)
  local lower = word:lower()
  local limit = math.max(2, #lower // 3)
  local best, best_d
  for _, c in ipairs(candidates) do
    if math.abs(#lower - #c) <= limit then
      local d = M.distance(lower, c:lower())
      if not best_d or d < best_d then best, best_d = c, d end
    end
  end
  if best and best_d <= limit then return best end
  return nil
end

-- s cut to at most max bytes (on a UTF-8 character boundary), with "..."
-- when it was cut.
function M.shorten(s, max)
  if #s <= max then return s end
  local cut = max
  while cut > 0 and (s:byte(cut + 1) or 0) & 0xC0 == 0x80 do cut = cut - 1 end
  return s:sub(1, cut) .. "..."
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

-- printable(s) -> s with every control character escaped, so that text
-- from outside (a server's message, a JSON key, a file name) cannot start
-- a line of its own, move the cursor or retitle the terminal when printed:
-- C0 controls and DEL as \n, \r, \t, \e or \xNN, C1 controls (U+0080 to
-- U+009F) and the bidirectional controls as \u{NN}, and bytes that are not
-- UTF-8 as \xNN. A backslash is left alone: escapes are for reading, not
-- for decoding back.
local NAMED = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t", ["\27"] = "\\e" }

-- The bidirectional controls (Unicode's Bidi_Control): invisible, they
-- reorder the text around them, so a name can show as something else
-- ("Trojan Source").
local function is_bidi(cp)
  return cp == 0x061c or cp == 0x200e or cp == 0x200f or (cp >= 0x202a and cp <= 0x202e)
    or (cp >= 0x2066 and cp <= 0x2069)
end
M.is_bidi = is_bidi

-- visible_bidi(s) -> s with the bidirectional controls written as \u{NNNN}:
-- for renderings that escape in their own way (HTML) but show text as is.
function M.visible_bidi(s)
  return (s:gsub("[\216\226][\128-\191]+", function(seq)
    local ok, cp = pcall(utf8.codepoint, seq)
    if ok and is_bidi(cp) then return string.format("\\u{%x}", cp) end
  end))
end

local function escape_byte(b) return string.format("\\x%02x", b) end

function M.printable(s)
  s = tostring(s)
  if not s:find("[%c\128-\255]") then return s end
  local out, i, n = {}, 1, #s
  while i <= n do
    local j = s:find("[%c\128-\255]", i)
    if not j then out[#out + 1] = s:sub(i); break end
    out[#out + 1] = s:sub(i, j - 1)
    local b = s:byte(j)
    if b < 0x80 then
      out[#out + 1] = NAMED[string.char(b)] or escape_byte(b)
      i = j + 1
    else
      -- one UTF-8 sequence, if it is one (utf8.len checks overlongs,
      -- surrogates and the upper limit)
      local len = b >= 0xf0 and 4 or b >= 0xe0 and 3 or b >= 0xc0 and 2 or 1
      local seq = s:sub(j, j + len - 1)
      if len > 1 and #seq == len and utf8.len(seq) == 1 then
        local cp = utf8.codepoint(seq)
        out[#out + 1] = ((cp >= 0x80 and cp <= 0x9f) or is_bidi(cp)) and string.format("\\u{%02x}", cp) or seq
        i = j + len
      else
        out[#out + 1] = escape_byte(b)
        i = j + 1
      end
    end
  end
  return table.concat(out)
end

-- printable_lines(s) -> s with each line made printable and the line
-- breaks kept: for multi-line text gcrun composes itself (help, tracebacks).
function M.printable_lines(s)
  local lines = {}
  for l in (s .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = M.printable(l) end
  return table.concat(lines, "\n")
end

-- printable_text(s) -> s made printable but for its line breaks and
-- tabs: for the text a user's script prints (see gcrun.scripts).
function M.printable_text(s)
  return (tostring(s):gsub("[^\n\t]+", M.printable))
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
