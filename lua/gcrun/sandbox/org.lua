-- The sandbox org's state: clients, users (with their routing skills),
-- skills, queues (with members) and flows (with their configuration),
-- loaded from an org file or a saved state, indexed, saved atomically.
-- Fields whose names start with "_" are the sandbox's own bookkeeping and
-- never appear in an API answer.
local ids = require "gcrun.sandbox.ids"
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
  { name = "divisions", required = { "id", "name" } },
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
  data.org = data.org or { id = "sandbox-org", name = "gcrun sandbox org" }
  if #data.divisions == 0 then
    -- every org has its home division; an org file may leave it out
    data.divisions[1] = { id = ids.derive(tostring(data.org.id) .. "/home"), name = "Home", homeDivision = true }
  end
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
  self.names = {}
  for _, q in ipairs(data.queues) do
    if type(q.name) == "string" then self.names[q.name:lower()] = q end
  end
  return self
end

-- load(path [, id_seed]) -> org | nil, message (naming the file and what
-- is wrong). With id_seed every id is replaced by one derived from it.
function M.load(path, id_seed)
  local text, err = sys.read(path, MAX_FILE)
  if not text then return nil, err end
  local data, jerr = json.decode(text)
  if data == nil then
    return nil, string.format("%s:%s:%s: %s", path, jerr.line or "?", jerr.column or "?", jerr.message)
  end
  if id_seed and type(data) == "table" then ids.reseed(data, id_seed) end
  return M.new(data, path)
end

-- The home division, where a queue without one lives.
function Org:home_division()
  for _, d in ipairs(self.data.divisions) do
    if d.homeDivision then return d end
  end
  return self.data.divisions[1]
end

-- save(path) -> true | nil, message; never raises (an unencodable value
-- is a failed save, for the caller to report).
function Org:save(path)
  local ok, text = pcall(json.encode, self.data, { sort = false })
  if not ok then return nil, "cannot encode the org: " .. tostring(text) end
  return sys.write_atomic(path, text, 384)
end

function Org:get(kind, id) return self.index[kind][id] end

-- add(kind, item): a new object (a queue created through the API).
function Org:add(kind, item)
  local list = self.data[kind]
  list[#list + 1] = item
  self.index[kind][item.id] = item
  if kind == "queues" and type(item.name) == "string" then self.names[item.name:lower()] = item end
end
function Org:list(kind) return self.data[kind] end
function Org:name() return self.data.org.name end

-- A copy without the sandbox's own fields, as the API shows an object. The
-- top level only: views are encoded at once and never modified deeper.
function M.public(obj)
  local c = {}
  for k, v in pairs(obj) do
    if type(k) ~= "string" or k:sub(1, 1) ~= "_" then c[k] = v end
  end
  return setmetatable(c, getmetatable(obj))
end

-- Queue names are unique, ignoring case; the index is kept by renamed().
function Org:queue_by_name(name, except_id)
  local q = self.names[name:lower()]
  if q and q.id ~= except_id then return q end
  return nil
end

function Org:renamed(q, old_name)
  if type(old_name) == "string" and self.names[old_name:lower()] == q then self.names[old_name:lower()] = nil end
  if type(q.name) == "string" then self.names[q.name:lower()] = q end
end

-- Flows whose configuration has a Queue node for this queue, from an index
-- rebuilt after any flow changed (flows_changed()).
function Org:flows_using(queue_id)
  if not self.consumers then
    local index = {}
    for _, f in ipairs(self.data.flows) do
      local seen = {}
      for _, node in ipairs(f.configuration.nodes) do
        local qid = node.type == "Queue" and type(node.config) == "table" and node.config.queueId
        if qid and not seen[qid] then
          seen[qid] = true
          index[qid] = index[qid] or {}
          table.insert(index[qid], f)
        end
      end
    end
    self.consumers = index
  end
  return self.consumers[queue_id] or {}
end

function Org:flows_changed() self.consumers = nil end

function Org.user_skill(_, user, skill_id)
  for _, s in ipairs(user.skills) do
    if s.id == skill_id then return s end
  end
  return nil
end

return M
