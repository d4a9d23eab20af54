-- Platform route for divisions:
--   GET /api/v2/authorization/divisions?name=&id=&pageSize=&pageNumber=
-- AuthzDivision objects; the home division is flagged homeDivision.
local queues = require "gcrun.sandbox.queues"
local respond = require "gcrun.sandbox.respond"

local M = {}

local function view(d)
  return { id = d.id, name = d.name, description = d.description or "", homeDivision = d.homeDivision == true,
    selfUri = "/api/v2/authorization/divisions/" .. d.id }
end

function M.list(ctx)
  local page, err = respond.paging(ctx.query, 100)
  if not page then return err end
  if type(ctx.query.name) == "table" then return respond.invalid("name can be given once", "name") end
  local only = queues.id_set(ctx.query.id)
  local items = {}
  for _, d in ipairs(ctx.org:list("divisions")) do
    if queues.exact_name_matches(d.name, ctx.query.name) and (not only or only[d.id]) then
      items[#items + 1] = view(d)
    end
  end
  table.sort(items, function(a, b) return a.name:lower() < b.name:lower() end)
  return respond.listing("/api/v2/authorization/divisions", ctx.query, page, items)
end

function M.get(ctx, id)
  local d = ctx.org:get("divisions", id)
  if not d then return respond.not_found("division", id) end
  return respond.json(200, view(d))
end

return M
