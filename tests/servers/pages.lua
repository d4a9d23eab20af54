-- A test server of paged listings that misbehave: /endless hands out a new
-- nextUri with a non-empty page for ever and says nothing of its length;
-- /counted says pageCount (or total and pageSize) and still hands out
-- nextUris past it. /hits?of=KEY says how many pages were asked with
-- ?key=KEY (the nextUris keep the key).
local cjson = require "cjson"

local M = {}

function M.new() return setmetatable({ hits = {} }, { __index = M }) end

function M:handle(req)
  local q = req.query
  if req.path == "/hits" then
    return 200, { ["Content-Type"] = "application/json" }, cjson.encode { hits = self.hits[q.of] or 0 }
  end
  local key = q.key or req.path
  self.hits[key] = (self.hits[key] or 0) + 1
  local n = tonumber(q.pageNumber) or 1
  local page = { entities = { { id = req.path .. "-" .. n } }, pageNumber = n, pageSize = 1,
    nextUri = string.format("%s?pageSize=1&pageNumber=%d&key=%s", req.path, n + 1, key) }
  if req.path == "/counted" then
    page.pageCount = 3
  elseif req.path == "/totalled" then
    page.total, page.pageSize = 4, 1
  elseif req.path ~= "/endless" then
    return 404, { ["Content-Type"] = "application/json" }, cjson.encode { status = 404, code = "not.found",
      message = "no such listing" }
  end
  return 200, { ["Content-Type"] = "application/json" }, cjson.encode(page)
end

return M
