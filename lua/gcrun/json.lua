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

local function encode_into(v, out, indent, level)
  local tv = type(v)
  if tv ~= "table" then
    if v == cjson.null then out[#out + 1] = "null"; return end
    if tv ~= "string" and tv ~= "number" and tv ~= "boolean" then
      error("cannot encode a " .. tv .. " as JSON", 0)
    end
    out[#out + 1] = encode_scalar(v)
    return
  end
  local nl = indent and ("\n" .. string.rep(indent, level + 1)) or ""
  local close = indent and ("\n" .. string.rep(indent, level)) or ""
  if M.is_array(v) then
    if #v == 0 then out[#out + 1] = "[]"; return end
    out[#out + 1] = "["
    for i = 1, #v do
      if i > 1 then out[#out + 1] = "," end
      out[#out + 1] = nl
      encode_into(v[i], out, indent, level + 1)
    end
    out[#out + 1] = close .. "]"
    return
  end
  local keys = sorted_keys(v)
  if #keys == 0 then out[#out + 1] = "{}"; return end
  out[#out + 1] = "{"
  local sep = indent and ": " or ":"
  for i, k in ipairs(keys) do
    if i > 1 then out[#out + 1] = "," end
    out[#out + 1] = nl
    out[#out + 1] = encode_scalar(k)
    out[#out + 1] = sep
    local x = v[k]
    if x == nil then x = v[math.tointeger(tonumber(k))] end
    encode_into(x, out, indent, level + 1)
  end
  out[#out + 1] = close .. "}"
end

-- encode(value [, {pretty=true}]) -> text, keys sorted.
function M.encode(v, opts)
  local out = {}
  encode_into(v, out, opts and opts.pretty and "  " or nil, 0)
  return table.concat(out)
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
