-- What a definition means for the API: the QueueRequest built from the
-- current queue with the managed fields overlaid (everything else is sent
-- back as it came, so nothing gcrun does not manage is lost), the ACW
-- settings, the tutorial's payload, and the way back for queue-export.
local json = require "gcrun.json"

local M = {}

-- Fields of a Queue the service sets itself; they are not sent back.
M.READ_ONLY = { "selfUri", "dateCreated", "dateModified", "modifiedBy", "createdBy", "modifiedByApp",
  "createdByApp", "memberCount", "userMemberCount", "joinedMemberCount", "version", "state" }
local read_only = {}
for _, k in ipairs(M.READ_ONLY) do read_only[k] = true end

-- wrap_up_policy, acw_timer_required and acw_timeout as acwSettings:
--   required + timer   MANDATORY_TIMEOUT, timeoutMs = acw_timeout * 1000
--   required           MANDATORY
--   optional           OPTIONAL (the service allows no timeout with it)
--   none + timer       AGENT_REQUESTED, timeoutMs
--   none               AGENT_REQUESTED
function M.acw_settings(def)
  local ms = def.acw_timer_required and def.acw_timeout * 1000 or nil
  if def.wrap_up_policy == "required" then
    return ms and { wrapupPrompt = "MANDATORY_TIMEOUT", timeoutMs = ms } or { wrapupPrompt = "MANDATORY" }
  elseif def.wrap_up_policy == "optional" then
    return { wrapupPrompt = "OPTIONAL" }
  elseif def.wrap_up_policy == "none" then
    return { wrapupPrompt = "AGENT_REQUESTED", timeoutMs = ms }
  end
  -- an unknown policy is sent as given, so the service's own check speaks
  return { wrapupPrompt = tostring(def.wrap_up_policy) }
end

-- The ACW fields a definition names, completed from the queue's current
-- acwSettings for those it leaves out (absent = untouched); nil when it
-- names none of them.
function M.wanted_acw(def, current_acw)
  if def.wrap_up_policy == nil and def.acw_timer_required == nil and def.acw_timeout == nil then return nil end
  -- all three named: nothing to complete (and no table built per queue)
  if def.wrap_up_policy ~= nil and def.acw_timer_required ~= nil and def.acw_timeout ~= nil then
    return M.acw_settings(def)
  end
  local policy, timer, secs = M.policy_of(current_acw)
  local full = { wrap_up_policy = def.wrap_up_policy, acw_timer_required = def.acw_timer_required,
    acw_timeout = def.acw_timeout }
  if full.wrap_up_policy == nil then full.wrap_up_policy = policy or "required" end
  if full.acw_timer_required == nil then
    -- a timeout given alone means the timer is wanted
    if def.acw_timeout ~= nil then full.acw_timer_required = true else full.acw_timer_required = timer or false end
  end
  if full.acw_timeout == nil then full.acw_timeout = secs or 300 end
  return M.acw_settings(full)
end

-- The values a definition gives the fields gcrun manages: name,
-- description, acwSettings, and the `queue` object's extra fields; only
-- those the definition names (the others are not managed). `current` is
-- the queue as read (its acwSettings complete a partial ACW definition).
function M.managed(def, current)
  local want = { name = def.name, description = def.description,
    acwSettings = M.wanted_acw(def, current and current.acwSettings) }
  if def.division_id then want.division = { id = def.division_id } end
  for k, v in pairs(def.queue or {}) do want[k] = v end
  return want
end

-- queue_request(def, current) -> the QueueRequest to PUT: the current
-- queue's fields (the nested ones shared, never modified) with the managed
-- ones overlaid.
function M.queue_request(def, current)
  local req = {}
  for k, v in pairs(current) do
    if not read_only[k] then req[k] = v end
  end
  for k, v in pairs(M.managed(def, current)) do req[k] = json.copy(v) end
  return req
end

-- The settings a new queue gets besides what its definition names: the
-- CreateQueueRequest requires acwSettings, mediaSettings and
-- skillEvaluationMethod. These are the service's own defaults for a queue
-- made in the admin UI.
local MEDIA = { "call", "callback", "chat", "email", "message" }

function M.create_request(def)
  local req = M.managed(def, nil)
  req.id = nil
  if not req.acwSettings then req.acwSettings = { wrapupPrompt = "OPTIONAL" } end
  if not req.mediaSettings then
    req.mediaSettings = {}
    for _, m in ipairs(MEDIA) do
      req.mediaSettings[m] = { alertingTimeoutSeconds = m == "email" and 300 or 8,
        serviceLevel = { percentage = 0.8, durationMs = m == "email" and 86400000 or 20000 } }
    end
  end
  req.skillEvaluationMethod = req.skillEvaluationMethod or "ALL"
  return req
end

-- managed_changes(def, current) -> what the PUT would change: only the
-- managed fields can differ, so only they are compared.
local BASE_FIELDS = { "acwSettings", "description", "name" }

function M.managed_changes(def, current)
  local want = M.managed(def, current)
  local fields = BASE_FIELDS
  if next(def.queue or {}) or want.division then
    fields = {}
    for k in pairs(want) do fields[#fields + 1] = k end
    table.sort(fields)
  end
  local changes = {}
  for _, k in ipairs(fields) do
    if want[k] ~= nil and not json.equal(current[k], want[k]) and not (k == "division" and current.division
        and current.division.id == want.division.id) then
      changes[#changes + 1] = { field = k, before = json.copy(current[k]), after = json.copy(want[k]) }
    end
  end
  return changes
end

-- field_changes(current, request) -> { {field=, before=, after=}, ... }
-- sorted by field; read-only fields are not compared.
function M.field_changes(current, request)
  local fields, seen = {}, {}
  for _, t in ipairs { current, request } do
    for k in pairs(t) do
      if not read_only[k] and not seen[k] then seen[k] = true; fields[#fields + 1] = k end
    end
  end
  table.sort(fields)
  local changes = {}
  for _, k in ipairs(fields) do
    if not json.equal(current[k], request[k]) then
      changes[#changes + 1] = { field = k, before = json.copy(current[k]), after = json.copy(request[k]) }
    end
  end
  return changes
end

-- The tutorial's snake_case payload for PUT /api/v2/routing/queues/{id}.
function M.tutorial_payload(def)
  local skills, members = json.array({}), json.array({})
  for _, s in ipairs(def.skills) do skills[#skills + 1] = { id = s.id, level = s.level } end
  for _, m in ipairs(def.members) do members[#members + 1] = { id = m.id, priority = m.priority } end
  return {
    name = def.name, description = def.description, outbound_queue = def.outbound_queue,
    skills = skills, members = members, wrap_up_policy = def.wrap_up_policy,
    skill_config = { acw_timer_required = def.acw_timer_required, acw_timeout = def.acw_timeout },
  }
end

-- The definition fields an acwSettings reads back as (export).
function M.policy_of(acw)
  local p = acw and acw.wrapupPrompt
  local secs = acw and acw.timeoutMs and acw.timeoutMs // 1000
  if p == "MANDATORY_TIMEOUT" then return "required", true, secs end
  if p == "OPTIONAL" then return "optional", false, nil end
  if p == "AGENT_REQUESTED" then return "none", secs ~= nil, secs end
  if p == "MANDATORY" or p == nil then return "required", false, nil end
  return nil   -- MANDATORY_FORCED_TIMEOUT and anything newer: no definition equivalent
end

-- definition(queue, members, agents [, opts]) -> a definition such that
-- syncing it back changes nothing; plus the wrapupPrompt it could not say,
-- if any. Queues have no skills of their own in the Platform API: the
-- exported skills are those every member has at the same proficiency.
-- opts: {skills = {id = name}, portable = true: names only (members by
-- email, skills by name, no ids), else names beside ids (the list forms
-- with `name` and `email` next to each id)}. Keys are in a stable order.
function M.definition(queue, members, agents, opts)
  opts = opts or {}
  local skill_names = opts.skills or {}
  local policy, timer, secs = M.policy_of(queue.acwSettings)
  local def = {
    queue_id = not opts.portable and queue.id or nil, name = queue.name, description = queue.description,
    division = queue.division and (queue.division.name or queue.division.id) or nil,
    wrap_up_policy = policy or "required", acw_timer_required = timer or false, acw_timeout = secs or 300,
  }
  local anonymous = {}
  local sorted = {}
  for _, m in ipairs(members) do sorted[#sorted + 1] = m end
  table.sort(sorted, function(a, b) return (a.name or a.id) < (b.name or b.id) end)
  if opts.portable then
    def.members = {}
    for _, m in ipairs(sorted) do
      local a = agents[m.id] or {}
      local key = a.email or a.username
      if not key then key = m.id; anonymous[#anonymous + 1] = m.name or m.id end
      def.members[key] = math.tointeger(m.ringNumber) or m.ringNumber or 1
    end
  else
    def.members = json.array({})
    for _, m in ipairs(sorted) do
      local a = agents[m.id] or {}
      def.members[#def.members + 1] = { id = m.id, name = m.name or a.name, email = a.email,
        priority = math.tointeger(m.ringNumber) or m.ringNumber or 1 }
    end
  end
  local common
  for _, m in ipairs(members) do
    local have = agents[m.id] and agents[m.id].skills or {}
    if common == nil then
      common = {}
      for id, p in pairs(have) do common[id] = p end
    else
      for id, p in pairs(common) do
        if have[id] ~= p then common[id] = nil end
      end
    end
  end
  local ids = {}
  for id, p in pairs(common or {}) do if p > 0 then ids[#ids + 1] = id end end
  table.sort(ids, function(a, b) return (skill_names[a] or a) < (skill_names[b] or b) end)
  if opts.portable then
    def.skills = {}
    for _, id in ipairs(ids) do def.skills[skill_names[id] or id] = math.tointeger(common[id]) or common[id] end
  else
    def.skills = json.array({})
    for _, id in ipairs(ids) do
      local level = math.tointeger(common[id]) or common[id]
      def.skills[#def.skills + 1] = { id = id, name = skill_names[id], level = level }
    end
  end
  return def, policy == nil and queue.acwSettings.wrapupPrompt or nil, anonymous
end

return M
