-- The tutorial's wire format, under /tutorial, over the same org:
--   PUT|GET /api/v2/routing/queues/{id} with the snake_case payload (members
--   and skills inside it), PUT|GET /api/v2/flow/flows/{id} with `nodes` and
--   a `version` one above the current. Its 400 bodies carry an `errors`
--   list whose messages name the unknown skill in quotes, the duplicate
--   member or the invalid wrap_up_policy, as the tutorial's rules expect.
local flows = require "gcrun.sandbox.flows"
local json = require "gcrun.json"
local respond = require "gcrun.sandbox.respond"
local sys = require "gcrun.sys"
local text = require "gcrun.text"

local M = {}

local POLICIES = { required = true, optional = true, none = true }

-- The service's own reading of the tutorial payload's wrap-up fields.
local function acw_settings(policy, timer, timeout)
  local ms = timer and math.floor(timeout * 1000) or nil
  if policy == "required" then
    return timer and { wrapupPrompt = "MANDATORY_TIMEOUT", timeoutMs = ms } or { wrapupPrompt = "MANDATORY" }
  elseif policy == "optional" then
    return { wrapupPrompt = "OPTIONAL" }
  end
  return { wrapupPrompt = "AGENT_REQUESTED", timeoutMs = ms }
end

local function policy_of(acw)
  local p = acw and acw.wrapupPrompt
  if p == "OPTIONAL" then return "optional", false end
  if p == "AGENT_REQUESTED" then return "none", acw.timeoutMs ~= nil end
  return "required", acw ~= nil and acw.timeoutMs ~= nil
end

local function queue_view(q)
  local policy, timer = policy_of(q.acwSettings)
  local t = q._tutorial or {}
  local members = json.array({})
  for _, m in ipairs(q._members) do members[#members + 1] = { id = m.id, priority = m.ringNumber } end
  return {
    id = q.id, name = q.name, description = q.description, outbound_queue = t.outbound_queue or false,
    skills = json.array(json.copy(t.skills or {})), members = members, wrap_up_policy = policy,
    skill_config = t.skill_config and json.copy(t.skill_config) or { acw_timer_required = timer,
      acw_timeout = q.acwSettings and q.acwSettings.timeoutMs and q.acwSettings.timeoutMs // 1000 or 300 },
  }
end

function M.get_queue(ctx, id)
  local q = ctx.org:get("queues", id)
  if not q then return respond.not_found("queue", id) end
  return respond.json(200, queue_view(q))
end

local function problem(list, message, code)
  list[#list + 1] = { message = message, code = code or "invalid.value" }
end

local function check(ctx, body, id)
  local errs = {}
  if type(body.name) ~= "string" or body.name == "" then problem(errs, "Field 'name' is required") end
  if type(body.name) == "string" and ctx.org:queue_by_name(body.name, id) then
    problem(errs, string.format("A queue named '%s' already exists", body.name), "duplicate.name")
  end
  for i, s in ipairs(type(body.skills) == "table" and body.skills or {}) do
    if type(s) ~= "table" or type(s.id) ~= "string" then
      problem(errs, string.format("Skill %d has no id", i))
    elseif not ctx.org:get("skills", s.id) then
      problem(errs, string.format("Skill '%s' not found", s.id), "not.found")
    elseif type(s.level) ~= "number" or s.level < 0 or s.level > 5 then
      problem(errs, string.format("Skill '%s' has an invalid level %s (0 to 5)", s.id, tostring(s.level)))
    end
  end
  local seen = {}
  for i, m in ipairs(type(body.members) == "table" and body.members or {}) do
    if type(m) ~= "table" or type(m.id) ~= "string" then
      problem(errs, string.format("Member %d has no id", i))
    elseif seen[m.id] then
      problem(errs, string.format("Duplicate member '%s' in members", m.id), "duplicate.member")
    elseif not ctx.org:get("users", m.id) then
      problem(errs, string.format("Member '%s' not found", m.id), "not.found")
    elseif math.type(m.priority) ~= "integer" or m.priority < 1 or m.priority > 6 then
      problem(errs, string.format("Member '%s' has an invalid priority %s (1 to 6)", m.id, tostring(m.priority)))
    end
    if type(m) == "table" and m.id then seen[m.id] = true end
  end
  if not POLICIES[body.wrap_up_policy] then
    problem(errs, string.format("Invalid wrap_up_policy '%s': must be one of required, optional, none",
      tostring(body.wrap_up_policy)))
  end
  local cfg = body.skill_config
  if cfg ~= nil and type(cfg) ~= "table" then problem(errs, "skill_config must be an object") end
  local timeout = type(cfg) == "table" and cfg.acw_timeout or 300
  if type(timeout) ~= "number" or timeout < 1 or timeout > 3600 then
    problem(errs, string.format("acw_timeout %s is out of range (1 to 3600 seconds)", tostring(timeout)))
  end
  return errs
end

function M.put_queue(ctx, id)
  local q = ctx.org:get("queues", id)
  if not q then return respond.not_found("queue", id) end
  local body = ctx.body
  if type(body) ~= "table" or json.is_array(body) then
    return respond.error(400, "bad.request", "The request body must be a queue object")
  end
  local errs = check(ctx, body, id)
  if #errs > 0 then
    return respond.error(400, "invalid.value", "Queue validation failed", { errors = errs })
  end
  local cfg = body.skill_config or {}
  local old_name = q.name
  q.name, q.description = body.name, body.description
  ctx.org:renamed(q, old_name)
  q.acwSettings = acw_settings(body.wrap_up_policy, cfg.acw_timer_required ~= false, cfg.acw_timeout or 300)
  q._tutorial = { outbound_queue = body.outbound_queue == true, skills = json.array({}),
    skill_config = { acw_timer_required = cfg.acw_timer_required ~= false, acw_timeout = cfg.acw_timeout or 300 } }
  local members = json.array({})
  local old = {}
  for _, m in ipairs(q._members) do old[m.id] = m end
  for _, m in ipairs(body.members or {}) do
    local prior = old[m.id]
    members[#members + 1] = { id = m.id, ringNumber = m.priority, joined = true,
      _added = prior and prior._added or sys.time() }
  end
  q._members = members
  for _, s in ipairs(body.skills or {}) do
    q._tutorial.skills[#q._tutorial.skills + 1] = { id = s.id, level = s.level }
    for _, m in ipairs(members) do
      local u = ctx.org:get("users", m.id)
      local us = ctx.org:user_skill(u, s.id)
      if us then us.proficiency = s.level else u.skills[#u.skills + 1] = { id = s.id, proficiency = s.level } end
    end
  end
  q.dateModified = text.iso8601(sys.time())
  q.modifiedBy = ctx.client.id
  ctx.sb.dirty = true
  return respond.json(200, queue_view(q))
end

local function flow_view(f)
  return { id = f.id, name = f.name, version = f.configuration.version, nodes = json.copy(f.configuration.nodes) }
end

function M.get_flow(ctx, id)
  local f = ctx.org:get("flows", id)
  if not f then return respond.not_found("flow", id) end
  local answer = respond.json(200, flow_view(f))
  if ctx.sb:roll("flow_editor") then flows.concurrent_edit(ctx, f) end
  return answer
end

-- PUT a flow: the body's version must be the current one plus one.
function M.put_flow(ctx, id)
  local f = ctx.org:get("flows", id)
  if not f then return respond.not_found("flow", id) end
  local body = ctx.body
  if type(body) ~= "table" or json.is_array(body) then
    return respond.error(400, "bad.request", "The request body must be a flow object")
  end
  local h = f.lockedClient
  if h and h.id ~= ctx.client.id and not (f._lock_until and sys.time() >= f._lock_until) then
    return respond.error(409, "general.conflict", string.format("Flow %s is checked out by %s", f.name, h.name or h.id))
  end
  local current = f.configuration.version
  if body.version ~= current + 1 then
    return respond.error(409, "general.conflict", string.format(
      "Version conflict: the flow is at version %d, so the update must carry version %d, not %s",
      current, current + 1, tostring(body.version)))
  end
  local problem_text = flows.check_nodes(ctx, body.nodes)
  if problem_text then
    return respond.error(400, "invalid.value", "The flow is not valid: " .. problem_text)
  end
  f.configuration.nodes = json.copy(body.nodes)
  f.configuration.version = body.version
  ctx.org:flows_changed()
  ctx.sb.dirty = true
  return respond.json(200, flow_view(f))
end

return M
