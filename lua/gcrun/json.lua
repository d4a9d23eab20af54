-- JSON for gcrun, on top of lua-cjson. cjson parses and escapes; this
-- module adds what Debian's cjson 2.1.0 cannot do and an API client needs:
--   * empty arrays survive a round trip (cjson decodes [] and {} to the
--     same table; a queue PUT that turns "memberGroups": [] into {} is
--     rejected), using gcrun.jsonscan to mark them before decoding;
--   * output with sorted keys, optionally indented, so reports and saved
--     state are byte-for-byte deterministic and readable;
--   * strict input: no NaN/Infinity, bounded nesting, errors with line and
--     column.
-- Strings and numbers are always written by cjson itself.
local cjson = require "cjson"
local jsonscan = require "gcrun.jsonscan"

local M = {}

M.null = cjson.null

local decoder = cjson.new()
decoder.decode_invalid_numbers(false)
decoder.decode_max_depth(64)

local scalar = cjson.new()
scalar.encode_invalid_numbers(false)
local encode_scalar = scalar.encode

local ARRAY = { __name = "gcrun.json.array" }

-- Mark a table as a JSON array (needed only for arrays that may be empty).
function M.array(t)
  return setmetatable(t or {}, ARRAY)
end

function M.is_array(t)
  if type(t) ~= "table" then return false end
  if getmetatable(t) == ARRAY then return true end
  local n = #t
  if n == 0 then return false end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n
end

local SENTINEL = jsonscan.SENTINEL

-- Put back empty arrays and give whole numbers integer type (cjson 2.1.0
-- decodes every number as a float, and 3.0 reads badly in messages).
local function restore(v)
  if type(v) ~= "table" then return math.tointeger(v) or v end
  if v[1] == SENTINEL and #v == 1 then return M.array({}) end
  for k, x in pairs(v) do
    if type(x) == "table" then
      v[k] = restore(x)
    elseif math.type(x) == "float" then
      v[k] = math.tointeger(x) or x
    end
  end
  if #v > 0 then setmetatable(v, ARRAY) end
  return v
end

local function position(text, msg)
  local at = tonumber(msg:match("at character (%d+)"))
  if not at then return nil end
  local line, col = 1, 1
  for i = 1, math.min(at - 1, #text) do
    if text:byte(i) == 10 then line, col = line + 1, 1 else col = col + 1 end
  end
  return line, col
end

-- cjson's token names, as a reader would say them
local TOKENS = {
  T_OBJ_BEGIN = "'{'", T_OBJ_END = "'}'", T_ARR_BEGIN = "'['", T_ARR_END = "']'", T_STRING = "a string",
  T_NUMBER = "a number", T_BOOLEAN = "true or false", T_NULL = "null", T_COLON = "':'", T_COMMA = "','",
  T_END = "the end of the text", T_WHITESPACE = "white space", T_ERROR = "an error", T_UNKNOWN = "something unknown",
}

local function failure(text, v)
  local msg = tostring(v):gsub("^.-:%d+: ", "")
  local line, col = position(text, msg)
  msg = msg:gsub(" at character %d+", ""):gsub("T_[%u_]+", TOKENS)
    :gsub("Found too many nested data structures %((%d+)%)", function(depth)
      return "nested more than " .. (tonumber(depth) - 1) .. " levels deep"
    end)
  return nil, { message = msg, line = line, column = col }
end

-- decode(text) -> value | nil, {message=, line=, column=}
function M.decode(text)
  local marked, n = jsonscan.mark_empty_arrays(text)
  local ok, v = pcall(decoder.decode, marked)
  if not ok and n > 0 then ok, v = pcall(decoder.decode, text) end  -- report original positions
  if not ok then return failure(text, v) end
  return restore(v)
end

-- decode_plain(text): as decode, without telling [] from {} or making
-- whole numbers integers; for readers that need neither (and are many).
function M.decode_plain(text)
  local ok, v = pcall(decoder.decode, text)
  if not ok then return failure(text, v) end
  return v
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do
    if type(k) ~= "string" then
      if math.type(k) ~= "integer" then error("JSON object keys must be strings, got a " .. type(k), 0) end
      k = tostring(k)
    end
    keys[#keys + 1] = k
  end
  table.sort(keys)
  return keys
end

-- The encoder writes pieces into `out` and returns how many it holds;
-- every few thousand pieces are joined into one chunk, so a large document
-- never holds a list of a million small strings (bench/: the report of a
-- 500-queue run).
local FLUSH = 4096

local function flush(out, n)
  out.sink(table.concat(out, "", 1, n))
  return 0
end

local utf8_len = utf8.len

-- valid_utf8(s) -> s, with each byte that does not begin a valid UTF-8
-- sequence replaced by U+FFFD. cjson copies such bytes as they are, and a
-- server's message carrying them would make the report unreadable JSON.
function M.valid_utf8(s)
  if utf8_len(s) then return s end
  local out, i, n = {}, 1, #s
  while i <= n do
    local ok, bad = utf8_len(s, i)
    if ok then out[#out + 1] = s:sub(i); break end
    out[#out + 1] = s:sub(i, bad - 1)
    out[#out + 1] = "\u{FFFD}"
    i = bad + 1
  end
  return table.concat(out)
end
local valid_utf8 = M.valid_utf8

local function encode_into(v, out, n, indent, level, sort)
  local tv = type(v)
  if tv ~= "table" then
    if v == cjson.null then n = n + 1; out[n] = "null"; return n end
    if tv ~= "string" and tv ~= "number" and tv ~= "boolean" then
      error("cannot encode a " .. tv .. " as JSON", 0)
    end
    n = n + 1
    out[n] = encode_scalar(tv == "string" and valid_utf8(v) or v)
    return n
  end
  if n >= FLUSH then n = flush(out, n) end
  local nl = indent and ("\n" .. string.rep(indent, level + 1)) or ""
  local close = indent and ("\n" .. string.rep(indent, level)) or ""
  if M.is_array(v) then
    local len = #v
    if len == 0 then n = n + 1; out[n] = "[]"; return n end
    n = n + 1
    out[n] = "["
    for i = 1, len do
      if i > 1 then n = n + 1; out[n] = "," end
      if indent then n = n + 1; out[n] = nl end
      n = encode_into(v[i], out, n, indent, level + 1, sort)
    end
    n = n + 1
    out[n] = close .. "]"
    return n
  end
  local keys
  if sort then
    keys = sorted_keys(v)
  else
    keys = {}
    for k in pairs(v) do
      if type(k) ~= "string" and math.type(k) ~= "integer" then
        error("JSON object keys must be strings, got a " .. type(k), 0)
      end
      keys[#keys + 1] = k
    end
  end
  if #keys == 0 then n = n + 1; out[n] = "{}"; return n end
  n = n + 1
  out[n] = "{"
  local sep = indent and ": " or ":"
  for i, k in ipairs(keys) do
    if i > 1 then n = n + 1; out[n] = "," end
    if indent then n = n + 1; out[n] = nl end
    local x = v[k]
    if x == nil then x = v[math.tointeger(tonumber(k))] end
    n = n + 1
    out[n] = encode_scalar(type(k) == "string" and valid_utf8(k) or tostring(k))
    n = n + 1
    out[n] = sep
    n = encode_into(x, out, n, indent, level + 1, sort)
  end
  n = n + 1
  out[n] = close .. "}"
  return n
end

-- v, or a copy of the parts of v holding empty arrays with each replaced
-- by the sentinel string, for cjson (which writes an empty table as {}).
local function substitute(v)
  local copy
  for k, x in pairs(v) do
    if type(x) == "table" then
      local y
      if next(x) == nil then
        if getmetatable(x) == ARRAY then y = SENTINEL end
      else
        y = substitute(x)
      end
      if y ~= nil and y ~= x then
        if not copy then
          copy = {}
          for k2, x2 in pairs(v) do copy[k2] = x2 end
        end
        copy[k] = y
      end
    end
  end
  return copy or v
end

local QUOTED_SENTINEL = encode_scalar(SENTINEL):gsub("%p", "%%%0")

-- encode(value [, {pretty=, sort=}]) -> text
-- Keys are sorted unless sort = false (then the output is the fastest one,
-- in no particular order); pretty indents and implies sorting.
function M.encode(v, opts)
  local pretty = opts and opts.pretty
  local sort = pretty or not (opts and opts.sort == false)
  if not sort and not (type(v) == "table" and next(v) == nil) then
    -- cjson does the work, told apart empty arrays by a sentinel it writes as a string
    local s = type(v) == "table" and substitute(v) or v
    local text = encode_scalar(s)
    if s ~= v then text = text:gsub(QUOTED_SENTINEL, "[]") end
    -- cjson copies bytes that are not UTF-8 as they are; they can only be
    -- in strings (the rest is ASCII), so replacing them in the text is
    -- replacing them in the strings, as the other path does
    return valid_utf8(text)
  end
  local chunks = {}
  M.encode_to(v, function(s) chunks[#chunks + 1] = s end, { pretty = pretty, sort = sort })
  return table.concat(chunks)
end

-- encode_to(value, write [, opts]): the same text, handed to write(chunk)
-- a few kilobytes at a time, for documents too large to hold twice.
function M.encode_to(v, write, opts)
  local pretty = opts and opts.pretty
  local out = { sink = write }
  local n = encode_into(v, out, 0, pretty and "  " or nil, 0, pretty or not (opts and opts.sort == false))
  flush(out, n)
end

-- A deep copy that keeps array marks (payloads are built from copies of
-- what the service returned, never by editing its answer in place).
function M.copy(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = M.copy(x) end
  return setmetatable(c, getmetatable(v))
end

-- Structural equality, ignoring array marks.
function M.equal(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  for k, x in pairs(a) do
    if not M.equal(x, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

return M
