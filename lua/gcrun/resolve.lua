-- References by name, turned into ids for the whole run with a few bulk
-- reads (never one request per reference):
--
--   queue    `name` without `queue_id`: the org's queues listed once
--   skills   keys that are no skill id: by name, from the skill list the
--            run reads anyway
--   members  keys with an @: agents by email or username, 100 a search
--            (POST /api/v2/users/search)
--   flows    entries that are no flow id: the org's flows listed once
--   division a name or an id: the divisions listed once
--
-- Names match ignoring case. An unknown skill or agent stays in the
-- definition for the correction rules (the plan finds it: unknown-skill,
-- unknown-user); a name that matches more than one object, an unknown
-- flow or division fails that queue with an error naming the candidates.
-- A queue name no queue has marks the definition `create`.
local defaults = require "gcrun.defaults"
local errors = require "gcrun.errors"
local json = require "gcrun.json"
local skill_levels = require "gcrun.skill_levels"

local M = {}

local function lower(s) return type(s) == "string" and s:lower() or s end

-- index(list, fields) -> lower(value) -> { object, ... } for each field
local function index(list, fields)
  local by = {}
  for _, o in ipairs(list) do
    for _, f in ipairs(fields) do
      local k = lower(o[f])
      if k then
        by[k] = by[k] or {}
        local seen = false
        for _, x in ipairs(by[k]) do if x.id == o.id then seen = true end end
        if not seen then table.insert(by[k], o) end
      end
    end
  end
  return by
end

-- "Ana Lima (u-0001), Ana Lima (u-0002)"
local function candidates(list)
  local parts = {}
  for _, o in ipairs(list) do parts[#parts + 1] = string.format("%s (%s)", o.name or o.email or "?", o.id) end
  table.sort(parts)
  return table.concat(parts, ", ")
end

-- One definition's failure: the first stays (the queue fails with it).
local function fail(def, field, fmt, ...)
  if def.unresolvable then return end
  def.unresolvable = string.format("%s: %s: " .. fmt, def.file, field, ...)
end

-- lookup(def, field, key, ids, by_name, what) -> id | nil
-- ids: id -> object; by_name: lower(name) -> { object, ... }
local function lookup(def, field, key, ids, by_name, what)
  if ids[key] then return key end
  local found = by_name[lower(key)] or {}
  if #found == 1 then return found[1].id end
  if #found > 1 then
    fail(def, field, "'%s' matches %d %s: %s; name one by id", key, #found, what, candidates(found))
  end
end

-- The definition's findings (a member listed twice, by its email) follow
-- a name that became an id, so the rules find the entries they name.
local function renamed(def, field, name, id)
  for _, p in ipairs(def.findings) do
    if p.definition_field == field and p.entity == name then p.entity, p.id = id, id end
  end
end

-- Agents by email or username, `defaults.user_batch` addresses a search.
local function search_users(api, keys)
  local found = {}
  for i = 1, #keys, defaults.user_batch do
    local values = json.array(table.move(keys, i, math.min(#keys, i + defaults.user_batch - 1), 1, {}))
    local page = 1
    repeat
      local body = api:call({ method = "POST", path = "/api/v2/users/search", json = {
        pageSize = defaults.page_size, pageNumber = page,
        query = json.array { { type = "TERMS", fields = json.array { "email", "username" }, values = values } },
      }, idempotent = true }, "search users by email"):json({ read_only = true })   -- a read: safe to resend
      for _, u in ipairs(body.results or {}) do found[#found + 1] = u end
      local pages = math.tointeger(body.pageCount) or 1
      page = page + 1
    until page > pages or page > defaults.max_pages
  end
  return found
end

-- The members' keys that are addresses, resolved; names.users learns them.
local function members(api, defs, names)
  local keys, seen = {}, {}
  for _, def in ipairs(defs) do
    for _, m in ipairs(def.members or {}) do
      if m.id:find("@", 1, true) and not seen[lower(m.id)] then
        seen[lower(m.id)] = true
        keys[#keys + 1] = m.id
      end
    end
  end
  if #keys == 0 then return end
  local by = index(search_users(api, keys), { "email", "username" })
  for _, def in ipairs(defs) do
    for _, m in ipairs(def.members or {}) do
      if m.id:find("@", 1, true) then
        local key = m.id
        local id = lookup(def, "members." .. key, key, {}, by, "users")
        m.label = m.label or key
        if id then
          names.users[id] = by[lower(key)][1].name or key
          m.id = id
          renamed(def, "members", key, id)
        else
          -- the plan reports it as unknown-user; the rules decide
          m.unresolved = true
          def.members_named = def.members_named or {}
          def.members_named[key] = true
        end
      end
    end
  end
end

local function skills(known, defs)
  if not known then return end   -- a dialect without a skill list: ids as given
  local list = {}
  for id, name in pairs(known) do list[#list + 1] = { id = id, name = name } end
  local by = index(list, { "name" })
  for _, def in ipairs(defs) do
    for _, s in ipairs(def.skills or {}) do
      local id = lookup(def, "skills." .. s.id, s.id, known, by, "skills")
      if id and id ~= s.id then renamed(def, "skills", s.id, id); s.label = s.id; s.id = id end
    end
  end
end

-- A listing read once, when some definition needs it.
local function listing(api, path, what, how)
  local list = api:pages(path, nil, nil, what, how)
  local ids = {}
  for _, o in ipairs(list) do ids[o.id] = o end
  return ids, index(list, { "name" })
end

local function flows(api, defs, names)
  local any = false
  for _, def in ipairs(defs) do if #def.flows > 0 then any = true end end
  if not any then return end
  local ids, by = listing(api, "/api/v2/flows", "GET flows")
  for _, def in ipairs(defs) do
    for i, f in ipairs(def.flows) do
      local field = string.format("flows[%d]", i)
      local id = lookup(def, field, f, ids, by, "flows")
      if id then
        def.flows[i] = id
        names.flows[id] = ids[id].name
      elseif not (by[lower(f)] and #by[lower(f)] > 1) then
        fail(def, field, "no flow has the name or id '%s'", f)
      end
    end
  end
end

local function divisions(api, defs)
  local any = false
  for _, def in ipairs(defs) do if def.division then any = true end end
  if not any then return end
  local ids, by = listing(api, "/api/v2/authorization/divisions", "GET divisions")
  for _, def in ipairs(defs) do
    if def.division then
      local id = lookup(def, "division", def.division, ids, by, "divisions")
      if id then
        def.division_id = id
      elseif not (by[lower(def.division)] and #by[lower(def.division)] > 1) then
        fail(def, "division", "no division has the name or id '%s'", def.division)
      end
    end
  end
end

local function queues(api, defs)
  local any = false
  for _, def in ipairs(defs) do if not def.queue_id then any = true end end
  if not any then return end
  -- decoded to be sent back: the queues read here are the ones the run
  -- then updates (gcrun.orgread takes them rather than asking again)
  local ids, by = listing(api, "/api/v2/routing/queues", "GET queues", { sendable = true })
  if api.shared then api.shared.listed_queues = ids end
  for _, def in ipairs(defs) do
    if not def.queue_id then
      local found = by[lower(def.name)] or {}
      if #found == 1 then
        def.queue_id = found[1].id
      elseif #found > 1 then
        fail(def, "name", "'%s' matches %d queues: %s; give queue_id", def.name, #found, candidates(found))
      else
        def.create = true
      end
    end
  end
end

-- A member named twice (by email and by id, say) is a duplicate for the
-- rules, as a repeated key is.
local function duplicates(defs)
  for _, def in ipairs(defs) do
    local seen, found = {}, nil
    for _, m in ipairs(def.members or {}) do
      if seen[m.id] and not m.duplicate then
        m.duplicate = true
        found = found or {}
        found[#found + 1] = { kind = "duplicate-member", id = m.id, entity = m.id, definition_field = "members",
          source = "definition", message = string.format("Member '%s' is listed twice (as %s and %s)", m.id,
            seen[m.id], m.label or m.id) }
      end
      seen[m.id] = seen[m.id] or m.label or m.id
    end
    if found then
      for _, p in ipairs(def.findings) do found[#found + 1] = p end
      def.findings = found
    end
  end
end

-- run(api, defs, names): resolve every definition's names in place.
-- names: {users = {id = name}, skills = {id = name}, flows = {id = name}},
-- filled in for the output. A dialect that cannot list (the tutorial's)
-- keeps the names as the ids it sends.
function M.run(api, defs, names)
  if not api.pages then return end   -- (and every definition has its queue_id: see gcrun.sync)
  skills(api:skills(), defs)
  members(api, defs, names)
  flows(api, defs, names)
  divisions(api, defs)
  queues(api, defs)
  duplicates(defs)
end

-- for_run(api, ctx, run): resolve the definitions of every queue record
-- of a sync (ctx.names learns the names; the report reads them as
-- run.names), and settle the skill levels they ask for, now in ids.
function M.for_run(api, ctx, run)
  run.names = ctx.names
  local defs = {}
  for i, rec in ipairs(run.queues) do defs[i] = rec.def end
  M.run(api, defs, ctx.names)
  for _, rec in ipairs(run.queues) do rec.queue_id = rec.def.queue_id end
  ctx.api.opts.skill_levels, ctx.api.opts.skill_given = skill_levels.settle(defs, ctx.names)
end

-- check(def): raise the definition's resolution error, if it has one.
function M.check(def)
  if def.unresolvable then errors.raise("input", "%s", def.unresolvable) end
end

return M
