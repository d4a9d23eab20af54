-- Ids for the sandbox org: UUIDs derived from text (stable across runs, so
-- a seed gives the same org every time) and the re-seeding that gives an
-- org the same names under different ids, as a second org of the service
-- would have (for moving definitions between orgs).
local M = {}

-- 64-bit FNV-1a of a string, as two 32-bit halves.
local function fnv(s)
  local h = 0xcbf29ce484222325
  for i = 1, #s do
    h = (h ~ s:byte(i)) * 0x100000001b3
  end
  return h
end

-- derive(text) -> a version-4-shaped UUID that depends only on text
function M.derive(text)
  local a, b = fnv(text), fnv(text .. "\0")
  return string.format("%08x-%04x-4%03x-%04x-%012x", (a >> 32) & 0xffffffff, (a >> 16) & 0xffff, a & 0xfff,
    0x8000 | ((b >> 48) & 0x3fff), b & 0xffffffffffff)
end

-- random(rng) -> a UUID from a generator of numbers in [0, 1)
function M.random(rng)
  local function r(bits) return math.floor(rng() * (1 << bits)) end
  return string.format("%08x-%04x-4%03x-%04x-%04x%08x", r(32), r(16), r(12), 0x8000 | r(14), r(16), r(32))
end

-- reseed(data, seed): replace the id of every user, skill, queue, flow and
-- division (and every reference to one) by one derived from the seed and
-- the old id. Names stay; clients and their credentials stay.
function M.reseed(data, seed)
  local map = {}
  local function new(id)
    if type(id) ~= "string" then return id end
    map[id] = map[id] or M.derive(tostring(seed) .. "/" .. id)
    return map[id]
  end
  for _, kind in ipairs { "users", "skills", "queues", "flows", "divisions" } do
    for _, item in ipairs(data[kind] or {}) do item.id = new(item.id) end
  end
  if type(data.org) == "table" and data.org.id then data.org.id = new(data.org.id) end
  for _, u in ipairs(data.users or {}) do
    for _, s in ipairs(u.skills or {}) do s.id = map[s.id] or s.id end
  end
  for _, q in ipairs(data.queues or {}) do
    for _, m in ipairs(q.members or q._members or {}) do m.id = map[m.id] or m.id end
    if type(q.division) == "table" then q.division.id = map[q.division.id] or q.division.id end
  end
  for _, f in ipairs(data.flows or {}) do
    for _, node in ipairs(type(f.configuration) == "table" and f.configuration.nodes or {}) do
      if type(node.config) == "table" and node.config.queueId then
        node.config.queueId = map[node.config.queueId] or node.config.queueId
      end
    end
  end
  return data
end

return M
