-- The sandbox org's state: clients, users (with their routing skills),
-- skills, queues (with members) and flows (with their configuration),
-- loaded from an org file or a saved state, indexed, saved atomically.
-- Fields whose names start with "_" are the sandbox's own bookkeeping and
-- never appear in an API answer.
local json = require "gcrun.json"
local sys = require "gcrun.sys"

local M = {}
local Org = {}
Org.__index = Org

local MAX_FILE = 256 * 1024 * 1024

local KINDS = {
  { name = "clients", required = { "id", "secret" } },
  { name = "users", required = { "id", "name" } },
  { name = "skills", required = { "id", "name" } },
  { name = "queues", required = { "id", "name" } },
  { name = "flows", required = { "id", "name", "configuration" } },
}

local function check(data, file)
  if type(data) ~= "table" or json.is_array(data) then
    return nil, string.format("%s: the org must be a JSON object", file)
  end
  for _, kind in ipairs(KINDS) do
    local list = data[kind.name]
    if list == nil then
      data[kind.name] = json.array({})
    elseif type(list) ~= "table" or (next(list) and not json.is_array(list)) then
      return nil, string.format("%s: %s must be a list", file, kind.name)
    end
    local seen = {}
    for i, item in ipairs(data[kind.name]) do
      for _, field in ipairs(kind.required) do
        if item[field] == nil then
          return nil, string.format("%s: %s[%d]: missing %s", file, kind.name, i, field)
        end
      end
      if seen[item.id] then
        return nil, string.format("%s: %s[%d]: id %s is used twice", file, kind.name, i, item.id)
      end
      seen[item.id] = true
    end
  end
  for i, f in ipairs(data.flows) do
    if type(f.configuration.nodes) ~= "table" then
      return nil, string.format("%s: flows[%d].configuration.nodes must be a list", file, i)
    end
  end
  return true
end

-- new(data [, file]) -> org | nil, message
function M.new(data, file)
  local ok, err = check(data, file or "org")
  if not ok then return nil, err end
  local self = setmetatable({ data = data, index = {} }, Org)
  for _, kind in ipairs(KINDS) do
    local by = {}
    for _, item in ipairs(data[kind.name]) do by[item.id] = item end
    self.index[kind.name] = by
  end
  -- an org file lists a queue's members as `members`; the sandbox keeps
  -- them aside, since the Queue object itself has no such field
  for _, q in ipairs(data.queues) do
    q._members = json.array(q._members or q.members or {})
    q.members = nil
  end
  for _, u in ipairs(data.users) do
    u.skills = json.array(u.skills or {})
  end
  data.org = data.org or { id = "sandbox-org", name = "gcrun sandbox org" }
  return self
end

-- load(path) -> org | nil, message (naming the file and what is wrong)
function M.load(path)
  local text, err = sys.read(path, MAX_FILE)
  if not text then return nil, err end
  local data, jerr = json.decode(text)
  if data == nil then
    return nil, string.format("%s:%s:%s: %s", path, jerr.line or "?", jerr.column or "?", jerr.message)
  end
  return M.new(data, path)
end

function Org:save(path)
  return sys.write_atomic(path, json.encode(self.data, { sort = false }), 384)
end

function Org:get(kind, id) return self.index[kind][id] end
function Org:list(kind) return self.data[kind] end
function Org:name() return self.data.org.name end

-- A copy without the sandbox's own fields, as the API shows an object.
function M.public(obj)
  local c = {}
  for k, v in pairs(obj) do
    if type(k) ~= "string" or k:sub(1, 1) ~= "_" then c[k] = json.copy(v) end
  end
  return setmetatable(c, getmetatable(obj))
end

function Org:queue_by_name(name, except_id)
  local lower = name:lower()
  for _, q in ipairs(self.data.queues) do
    if q.id ~= except_id and type(q.name) == "string" and q.name:lower() == lower then return q end
  end
  return nil
end

-- Flows whose configuration has a Queue node for this queue.
function Org:flows_using(queue_id)
  local found = {}
  for _, f in ipairs(self.data.flows) do
    for _, node in ipairs(f.configuration.nodes) do
      if node.type == "Queue" and type(node.config) == "table" and node.config.queueId == queue_id then
        found[#found + 1] = f
        break
      end
    end
  end
  return found
end

function Org.user_skill(_, user, skill_id)
  for _, s in ipairs(user.skills) do
    if s.id == skill_id then return s end
  end
  return nil
end

return M
