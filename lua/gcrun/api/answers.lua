-- The shape of the service's answers the client relies on, checked before
-- an answer is used. A queue read back as a JSON array, another queue than
-- the one asked for, or a listing whose entities are not objects with ids
-- is an error naming what was asked; it never becomes the base of a PUT.
local errors = require "gcrun.errors"
local json = require "gcrun.json"

local M = {}

local function what_is(v)
  if v == json.null then return "null" end
  if type(v) == "table" then return json.is_array(v) and "a list" or "an object" end
  return "a " .. type(v)
end

local function bad(what, fmt, ...)
  errors.raise("bad_response", "%s: the service's answer %s", what, string.format(fmt, ...))
end

local function is_object(v) return type(v) == "table" and not json.is_array(v) end

-- object(v, what [, fields]) -> v, an object whose `fields` (name -> Lua
-- type) are present with those types.
function M.object(v, what, fields)
  if not is_object(v) then bad(what, "is %s, not an object", what_is(v)) end
  for name, kind in pairs(fields or {}) do
    if type(v[name]) ~= kind then bad(what, "has %s for %s, not a %s", what_is(v[name]), name, kind) end
  end
  return v
end

-- queue(v, id, what) -> v: the queue asked for, as an object.
function M.queue(v, id, what)
  M.object(v, what, { id = "string", name = "string" })
  if id and v.id ~= id then bad(what, "is queue %s, not %s", v.id, id) end
  return v
end

-- page(body, what) -> body: a page of a listing, its entities (if any) a
-- list of objects, each with a string id.
function M.page(body, what)
  M.object(body, what)
  local entities = body.entities
  if entities == nil or entities == json.null then return body end
  if type(entities) ~= "table" or (next(entities) ~= nil and not json.is_array(entities)) then
    bad(what, "has %s for entities, not a list", what_is(entities))
  end
  for i, e in ipairs(entities) do
    if not is_object(e) or type(e.id) ~= "string" then
      bad(what, "has %s without a string id as entity %d", what_is(e), i)
    end
  end
  return body
end

return M
