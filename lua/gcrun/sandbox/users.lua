-- Platform routes for skills and agents' routing skills:
--   GET /api/v2/routing/skills, GET /api/v2/users (id=, expand=skills),
--   GET /api/v2/users/{id}/routingskills,
--   PATCH /api/v2/users/{id}/routingskills/bulk (at most 50),
--   DELETE /api/v2/users/{id}/routingskills/{skillId}
local json = require "gcrun.json"
local queues = require "gcrun.sandbox.queues"
local respond = require "gcrun.sandbox.respond"

local M = {}

local MAX_SKILLS_PER_CALL = 50
local MAX_USER_IDS = 100

local function skill_view(s)
  return { id = s.id, name = s.name, state = s.state or "active", version = "1",
    selfUri = "/api/v2/routing/skills/" .. s.id }
end

local function user_skill_view(org, us)
  local skill = org:get("skills", us.id)
  return { id = us.id, name = skill and skill.name, proficiency = us.proficiency, state = "active",
    skillUri = "/api/v2/routing/skills/" .. us.id, selfUri = "/api/v2/users/routingskills/" .. us.id }
end

function M.view(org, u, with_skills)
  local v = { id = u.id, name = u.name, email = u.email, username = u.username or u.email,
    state = u.state or "active", version = u.version or 1, selfUri = "/api/v2/users/" .. u.id }
  local d = u.division and org:get("divisions", u.division.id) or org:home_division()
  v.division = { id = d.id, name = d.name, selfUri = "/api/v2/authorization/divisions/" .. d.id }
  if with_skills then
    v.skills = json.array({})
    for _, us in ipairs(u.skills) do v.skills[#v.skills + 1] = user_skill_view(org, us) end
  end
  return v
end

function M.skills(ctx)
  local page, err = respond.paging(ctx.query, 100)
  if not page then return err end
  local items = {}
  for _, s in ipairs(ctx.org:list("skills")) do
    if queues.name_matches(s.name, ctx.query.name) then items[#items + 1] = skill_view(s) end
  end
  table.sort(items, function(a, b) return a.name < b.name end)
  return respond.listing("/api/v2/routing/skills", ctx.query, page, items)
end

-- The id parameter comes repeated (id=a&id=b) or comma-separated.
local function ids_of(value)
  local ids = {}
  for _, v in ipairs(type(value) == "table" and value or { value }) do
    for id in tostring(v):gmatch("[^,]+") do ids[#ids + 1] = id end
  end
  return ids
end

function M.list(ctx)
  local page, err = respond.paging(ctx.query, 500)
  if not page then return err end
  local expand = {}
  for _, e in ipairs(ids_of(ctx.query.expand or {})) do expand[e] = true end
  local items = {}
  if ctx.query.id then
    local ids = ids_of(ctx.query.id)
    if #ids > MAX_USER_IDS then
      return respond.error(400, "max.user.ids", string.format("At most %d user ids can be requested, not %d",
        MAX_USER_IDS, #ids))
    end
    for _, id in ipairs(ids) do
      local u = ctx.org:get("users", id)
      if u then items[#items + 1] = M.view(ctx.org, u, expand.skills) end
    end
  else
    for _, u in ipairs(ctx.org:list("users")) do items[#items + 1] = M.view(ctx.org, u, expand.skills) end
    table.sort(items, function(a, b) return a.name < b.name end)
  end
  return respond.listing("/api/v2/users", ctx.query, page, items)
end

function M.routing_skills(ctx, user_id)
  local u = ctx.org:get("users", user_id)
  if not u then return respond.not_found("user", user_id) end
  local page, err = respond.paging(ctx.query, 100)
  if not page then return err end
  local items = {}
  for _, us in ipairs(u.skills) do items[#items + 1] = user_skill_view(ctx.org, us) end
  return respond.listing("/api/v2/users/" .. user_id .. "/routingskills", ctx.query, page, items)
end

-- PATCH .../routingskills/bulk [{"id": skillId, "proficiency": 0..5}]: add
-- or update the listed skills, keep the agent's others.
function M.bulk_skills(ctx, user_id)
  local u = ctx.org:get("users", user_id)
  if not u then return respond.not_found("user", user_id) end
  local body = ctx.body
  if not json.is_array(body) then
    return respond.error(400, "bad.request", "The request body must be a list of routing skills")
  end
  if #body > MAX_SKILLS_PER_CALL then
    return respond.invalid(string.format("At most %d skills can be assigned in one request, not %d",
      MAX_SKILLS_PER_CALL, #body), "body")
  end
  for i, s in ipairs(body) do
    if type(s) ~= "table" or type(s.id) ~= "string" then
      return respond.invalid(string.format("Skill %d has no id", i), "id")
    end
    if not ctx.org:get("skills", s.id) then
      return respond.invalid(string.format("Skill '%s' not found", s.id), "id", s.id)
    end
    local p = s.proficiency
    if type(p) ~= "number" or p < 0 or p > 5 or p ~= p then
      return respond.invalid(string.format("Proficiency %s for skill '%s' is out of range: 0 to 5",
        tostring(p), s.id), "proficiency", s.id)
    end
  end
  for _, s in ipairs(body) do
    local us = ctx.org:user_skill(u, s.id)
    if us then
      us.proficiency = s.proficiency
    else
      u.skills[#u.skills + 1] = { id = s.id, proficiency = s.proficiency }
    end
  end
  ctx.sb.dirty = true
  local items = json.array({})
  for _, us in ipairs(u.skills) do items[#items + 1] = user_skill_view(ctx.org, us) end
  return respond.json(200, { entities = items, pageSize = #items, pageNumber = 1, total = #items, pageCount = 1 })
end

-- DELETE /api/v2/users/{id}/routingskills/{skillId}: the agent no longer
-- has the skill. 404 when the user does not have it (or does not exist).
function M.remove_skill(ctx, user_id, skill_id)
  local u = ctx.org:get("users", user_id)
  if not u then return respond.not_found("user", user_id) end
  for i, us in ipairs(u.skills) do
    if us.id == skill_id then
      table.remove(u.skills, i)
      ctx.sb.dirty = true
      return respond.empty(200)
    end
  end
  return respond.not_found("routing skill", skill_id)
end

return M
