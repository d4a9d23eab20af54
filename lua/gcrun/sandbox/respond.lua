-- How the sandbox answers: JSON bodies, the service's ErrorBody shape
-- ({message, code, status, messageParams, contextId, details, errors}) and
-- entity listings with the paging fields and nextUri.
local json = require "gcrun.json"

local M = {}

local context = 0

-- A contextId in the service's style (a UUID), unique within the process.
local function context_id()
  context = context + 1
  return string.format("%08x-%04x-4%03x-8%03x-%012x", os.time() & 0xffffffff, context & 0xffff,
    (context >> 16) & 0xfff, context & 0xfff, context)
end

local JSON = { ["Content-Type"] = "application/json" }

function M.json(status, value, extra)
  local headers = { ["Content-Type"] = "application/json" }
  for k, v in pairs(extra or {}) do headers[k] = v end
  return { status = status, headers = headers, body = json.encode(value, { sort = false }) }
end

function M.empty(status)
  return { status = status, headers = JSON, body = "" }
end

-- error(status, code, message [, {params=, details=, errors=, headers=}])
function M.error(status, code, message, extra)
  extra = extra or {}
  local body = {
    status = status, code = code, message = message,
    messageParams = extra.params or {}, contextId = context_id(),
    details = json.array(extra.details or {}), errors = json.array(extra.errors or {}),
  }
  return M.json(status, body, extra.headers)
end

function M.not_found(what, id)
  return M.error(404, "not.found", string.format("The requested %s was not found: %s", what, id),
    { params = { id = id } })
end

function M.invalid(message, field, entity)
  return M.error(400, "invalid.value", message, {
    details = { { errorCode = "invalid.value", fieldName = field, entityId = entity } },
  })
end

-- Paging parameters: pageSize 1..max (default 25), pageNumber >= 1.
function M.paging(query, max)
  local size = query.pageSize and math.tointeger(tonumber(query.pageSize))
  local number = query.pageNumber and math.tointeger(tonumber(query.pageNumber))
  if query.pageSize and (not size or size < 1 or size > (max or 100)) then
    return nil, M.invalid(string.format("pageSize must be between 1 and %d", max or 100), "pageSize")
  end
  if query.pageNumber and (not number or number < 1) then
    return nil, M.invalid("pageNumber must be 1 or more", "pageNumber")
  end
  return { size = size or 25, number = number or 1 }
end

local function query_string(query, page)
  local keys = {}
  for k in pairs(query) do if k ~= "pageNumber" and k ~= "pageSize" then keys[#keys + 1] = k end end
  table.sort(keys)
  local parts = { "pageSize=" .. page.size, "pageNumber=" .. page.number }
  for _, k in ipairs(keys) do
    local v = query[k]
    for _, x in ipairs(type(v) == "table" and v or { v }) do
      parts[#parts + 1] = k .. "=" .. tostring(x):gsub("[^%w%-._~]", function(c)
        return string.format("%%%02X", c:byte())
      end)
    end
  end
  return table.concat(parts, "&")
end

-- listing(path, query, page, items) -> an entity listing of one page.
function M.listing(path, query, page, items)
  local total = #items
  local count = math.max(1, math.ceil(total / page.size))
  local entities = json.array({})
  local first = (page.number - 1) * page.size + 1
  for i = first, math.min(total, first + page.size - 1) do entities[#entities + 1] = items[i] end
  local function uri(n)
    return path .. "?" .. query_string(query, { size = page.size, number = n })
  end
  local body = {
    entities = entities, pageSize = page.size, pageNumber = page.number, total = total, pageCount = count,
    selfUri = uri(page.number), firstUri = uri(1), lastUri = uri(count),
  }
  if page.number < count then body.nextUri = uri(page.number + 1) end
  if page.number > 1 then body.previousUri = uri(page.number - 1) end
  return M.json(200, body)
end

return M
