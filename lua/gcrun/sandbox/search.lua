-- Platform route for the user search:
--   POST /api/v2/users/search with a UserSearchRequest
--     {pageSize, pageNumber, sortOrder, sortBy, expand, query: [UserSearchCriteria]}
--   GET /api/v2/users/search?q64=... (a page named by a previous answer)
-- answered with a UsersSearchResponse {total, pageCount, pageSize,
-- pageNumber, previousPage, currentPage, nextPage, types, results}.
local json = require "gcrun.json"
local respond = require "gcrun.sandbox.respond"
local text = require "gcrun.text"
local users = require "gcrun.sandbox.users"

local M = {}

local MAX_PAGE = 100
local TYPES = { EXACT = true, STARTS_WITH = true, CONTAINS = true, TERM = true, TERMS = true, MATCH_ALL = true,
  REQUIRED_FIELDS = true, REGEX = true }
local OPERATORS = { AND = true, OR = true, NOT = true }
local FIELDS = { id = true, name = true, email = true, username = true, state = true, department = true,
  title = true }

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    for j = 0, 3 do
      if j <= (c and 3 or b and 2 or 1) then
        local k = (n >> (18 - 6 * j)) & 63
        out[#out + 1] = B64:sub(k + 1, k + 1)
      else
        out[#out + 1] = "="
      end
    end
  end
  return table.concat(out)
end

local function field_value(u, field)
  if field == "username" then return u.username or u.email end
  if field == "state" then return u.state or "active" end
  return u[field]
end

local function lower(v) return type(v) == "string" and v:lower() or v end

-- One criterion's own test (without its operator).
local function matches(u, c)
  if c.group then
    return M.match_all(u, c.group)
  end
  if c.type == "MATCH_ALL" then return true end
  local values = {}
  if c.value ~= nil then values[#values + 1] = lower(c.value) end
  for _, v in ipairs(c.values or {}) do values[#values + 1] = lower(v) end
  for _, field in ipairs(c.fields or {}) do
    local have = lower(field_value(u, field))
    if c.type == "REQUIRED_FIELDS" then
      if have ~= nil and have ~= "" then return true end
    elseif type(have) == "string" then
      for _, want in ipairs(values) do
        if type(want) == "string" then
          if (c.type == "EXACT" or c.type == "TERM" or c.type == "TERMS") and have == want then return true end
          if c.type == "STARTS_WITH" and have:sub(1, #want) == want then return true end
          if c.type == "CONTAINS" and have:find(want, 1, true) then return true end
        end
      end
    end
  end
  return false
end

-- AND criteria must all match, NOT ones none, and of the OR ones at least
-- one (when there are any).
function M.match_all(u, criteria)
  local any_or, or_hit = false, false
  for _, c in ipairs(criteria) do
    local op = c.operator or "AND"
    local hit = matches(u, c)
    if op == "AND" and not hit then return false end
    if op == "NOT" and hit then return false end
    if op == "OR" then
      any_or = true
      or_hit = or_hit or hit
    end
  end
  return not any_or or or_hit
end

local function bad(message, field)
  return respond.error(400, "invalid.value", message, {
    details = { { errorCode = "invalid.value", fieldName = field } } })
end

-- The request's criteria checked against the UserSearchCriteria model.
local function check_criteria(list, where)
  if not json.is_array(list) or #list == 0 then return bad(where .. " must be a non-empty list", where) end
  for i, c in ipairs(list) do
    local at = string.format("%s[%d]", where, i - 1)
    if type(c) ~= "table" or json.is_array(c) then return bad(at .. " must be an object", at) end
    if c.operator ~= nil and not OPERATORS[c.operator] then
      return bad(string.format("Value [%s] is not valid for field operator. Allowed values: AND, NOT, OR",
        tostring(c.operator)), at .. ".operator")
    end
    if c.group ~= nil then
      local err = check_criteria(c.group, at .. ".group")
      if err then return err end
    else
      if not TYPES[c.type] then
        return bad(string.format("Value [%s] is not valid for field type", tostring(c.type)), at .. ".type")
      end
      if c.type == "REGEX" then
        return respond.error(400, "bad.request", "The sandbox does not support REGEX searches")
      end
      if c.type ~= "MATCH_ALL" then
        if not json.is_array(c.fields) or #c.fields == 0 then
          return bad(at .. ".fields is required", at .. ".fields")
        end
        for _, f in ipairs(c.fields) do
          if not FIELDS[f] then
            return bad(string.format("Field '%s' cannot be searched", tostring(f)), at .. ".fields")
          end
        end
        if c.type ~= "REQUIRED_FIELDS" and c.value == nil and (type(c.values) ~= "table" or #c.values == 0) then
          return bad(at .. " needs value or values", at .. ".value")
        end
      end
    end
  end
  return nil
end

local function run(ctx, request)
  if type(request) ~= "table" or json.is_array(request) then
    return respond.error(400, "bad.request", "The request body must be a UserSearchRequest object")
  end
  local size, number = request.pageSize or 25, request.pageNumber or 1
  if math.type(size) ~= "integer" or size < 1 or size > MAX_PAGE then
    return bad(string.format("pageSize must be between 1 and %d", MAX_PAGE), "pageSize")
  end
  if math.type(number) ~= "integer" or number < 1 then return bad("pageNumber must be 1 or more", "pageNumber") end
  local err = check_criteria(request.query, "query")
  if err then return err end
  local expand = {}
  for _, e in ipairs(type(request.expand) == "table" and request.expand or {}) do expand[e] = true end
  local found = {}
  for _, u in ipairs(ctx.org:list("users")) do
    if M.match_all(u, request.query) then found[#found + 1] = u end
  end
  local key = request.sortBy or "name"
  local desc = request.sortOrder == "DESC"
  table.sort(found, function(a, b)
    local x, y = tostring(field_value(a, key) or ""), tostring(field_value(b, key) or "")
    if x == y then return a.id < b.id end
    if desc then return x > y end
    return x < y
  end)
  local results = json.array({})
  for i = (number - 1) * size + 1, math.min(#found, number * size) do
    results[#results + 1] = users.view(ctx.org, found[i], expand.skills)
  end
  local pages = math.max(1, math.ceil(#found / size))
  local function q64(n)
    local r = json.copy(request)
    r.pageNumber = n
    return base64(json.encode(r))
  end
  return respond.json(200, {
    total = #found, pageCount = pages, pageSize = size, pageNumber = number, types = json.array { "users" },
    results = results, currentPage = q64(number), nextPage = number < pages and q64(number + 1) or nil,
    previousPage = number > 1 and q64(number - 1) or nil,
  })
end

function M.post(ctx) return run(ctx, ctx.body) end

function M.get(ctx)
  local q64 = ctx.query.q64
  if type(q64) ~= "string" or q64 == "" then
    return respond.error(400, "bad.request", "The query parameter q64 is required")
  end
  local request = json.decode(text.base64_decode(q64))
  if request == nil then return respond.error(400, "bad.request", "q64 is not a base64-encoded search request") end
  return run(ctx, request)
end

return M
