-- Platform routes for Architect flows and dependency tracking: checkout,
-- latest configuration, save a version (409 when stale), publish, checkin,
-- unlock, and the flows that consume a queue. With --flow-editor another
-- writer changes a non-queue node right after a client reads a
-- configuration; with --flow-locks another user holds a flow a while.
local json = require "gcrun.json"
local org_mod = require "gcrun.sandbox.org"
local queues = require "gcrun.sandbox.queues"
local respond = require "gcrun.sandbox.respond"
local sys = require "gcrun.sys"

local M = {}

local OTHER = { id = "sandbox-admin", name = "Sandbox Admin (another session)" }

local function flow_of(ctx, id)
  local f = ctx.org:get("flows", id)
  if not f then
    return nil, respond.error(404, "architect.flow.not.found", "Flow " .. tostring(id) .. " was not found",
      { params = { flowId = id } })
  end
  return f
end

local function flow_param(ctx)
  local id = ctx.query.flow
  if type(id) ~= "string" or id == "" then
    return nil, respond.error(400, "architect.query.parameter.missing", "The query parameter 'flow' is required")
  end
  return flow_of(ctx, id)
end

-- Who holds the flow's lock now, if anyone (simulated locks expire).
local function holder(f)
  if f._lock_until and sys.time() >= f._lock_until then
    f.lockedClient, f.lockedUser, f._lock_until = nil, nil, nil
  end
  return f.lockedClient
end

local function locked_by_other(ctx, f)
  local h = holder(f)
  if h and h.id ~= ctx.client.id then
    ctx.sb.stats.lock_conflicts = ctx.sb.stats.lock_conflicts + 1
    return respond.error(409, "general.conflict", string.format("Flow %s is checked out by %s", f.name,
      f.lockedUser and f.lockedUser.name or h.id), { params = { flowId = f.id } })
  end
  return nil
end

function M.view(f)
  local v = org_mod.public(f)
  v.configuration = nil
  v.savedVersion = { id = tostring(f.configuration.version) }
  if f.publishedVersion then v.publishedVersion = { id = tostring(f.publishedVersion) } end
  if f.checkedInVersion then v.checkedInVersion = { id = tostring(f.checkedInVersion) } end
  v.selfUri = "/api/v2/flows/" .. f.id
  return v
end

function M.list(ctx)
  local page, err = respond.paging(ctx.query, 100)
  if not page then return err end
  local only = queues.id_set(ctx.query.id)
  local items = {}
  for _, f in ipairs(ctx.org:list("flows")) do
    if queues.name_matches(f.name, ctx.query.name) and (not only or only[f.id])
      and (not ctx.query.type or ctx.query.type:upper() == (f.type or "INBOUNDCALL")) then
      items[#items + 1] = M.view(f)
    end
  end
  table.sort(items, function(a, b) return a.name < b.name end)
  return respond.listing("/api/v2/flows", ctx.query, page, items)
end

function M.get(ctx, id)
  local f, err = flow_of(ctx, id)
  if not f then return err end
  return respond.json(200, M.view(f))
end

-- The other writer: one edit to a node that is not a Queue node, and a new
-- version. Counted per flow, so a test can check every edit survived.
function M.concurrent_edit(ctx, f)
  local cfg = f.configuration
  local target
  for _, node in ipairs(cfg.nodes) do
    if node.type ~= "Queue" then target = node; break end
  end
  if not target then
    target = { id = "sandbox-editor-note", type = "Message", config = { text = "Hello" } }
    cfg.nodes[#cfg.nodes + 1] = target
  end
  target.config = target.config or {}
  target.config.editorEdits = (target.config.editorEdits or 0) + 1
  cfg.version = cfg.version + 1
  ctx.org:flows_changed()
  f._editor_edits = (f._editor_edits or 0) + 1
  ctx.sb.stats.editor_edits = ctx.sb.stats.editor_edits + 1
  ctx.sb.dirty = true
end

function M.latest(ctx, id)
  local f, err = flow_of(ctx, id)
  if not f then return err end
  local answer = respond.json(200, f.configuration)
  if ctx.sb:roll("flow_editor") then M.concurrent_edit(ctx, f) end
  return answer
end

function M.checkout(ctx)
  local f, err = flow_param(ctx)
  if not f then return err end
  local other = locked_by_other(ctx, f)
  if other then return other end
  -- another user holds it for a while, at most once per flow
  if not holder(f) and not f._other_locked and ctx.sb:roll("flow_locks") then
    f._other_locked = true
    f.lockedClient, f.lockedUser = OTHER, OTHER
    f._lock_until = sys.time() + 0.2 + ctx.sb.random() * 1.3
    return locked_by_other(ctx, f)
  end
  f.lockedClient = { id = ctx.client.id, name = ctx.client.name or ctx.client.id }
  f.lockedUser = { id = ctx.client.id, name = ctx.client.name or ctx.client.id }
  ctx.sb.dirty = true
  return respond.json(200, M.view(f))
end

function M.checkin(ctx)
  local f, err = flow_param(ctx)
  if not f then return err end
  local other = locked_by_other(ctx, f)
  if other then return other end
  f.lockedClient, f.lockedUser = nil, nil
  f.checkedInVersion = f.configuration.version
  ctx.sb.dirty = true
  return respond.json(200, M.view(f))
end

-- Break a lock, whoever holds it (an administrator's action).
function M.unlock(ctx)
  local f, err = flow_param(ctx)
  if not f then return err end
  f.lockedClient, f.lockedUser, f._lock_until = nil, nil, nil
  ctx.sb.dirty = true
  return respond.json(200, M.view(f))
end

local function check_nodes(ctx, nodes)
  if not json.is_array(nodes) then return "nodes must be a list" end
  local ids = {}
  for i, node in ipairs(nodes) do
    if type(node) ~= "table" or type(node.id) ~= "string" or type(node.type) ~= "string" then
      return string.format("node %d needs an id and a type", i)
    end
    if ids[node.id] then return string.format("node id %s is used twice", node.id) end
    ids[node.id] = true
    if node.type == "Queue" then
      local qid = type(node.config) == "table" and node.config.queueId
      if not qid or not ctx.org:get("queues", qid) then
        return string.format("node %s refers to queue %s, which does not exist", node.id, tostring(qid))
      end
    end
  end
  return nil
end
M.check_nodes = check_nodes

-- POST /api/v2/flows/{id}/versions with the configuration read before:
-- its version must still be the latest, and the caller must hold the lock.
function M.save(ctx, id)
  local f, err = flow_of(ctx, id)
  if not f then return err end
  local h = holder(f)
  if not h or h.id ~= ctx.client.id then
    ctx.sb.stats.lock_conflicts = ctx.sb.stats.lock_conflicts + 1
    return respond.error(409, "general.conflict", string.format("Flow %s must be checked out by you to be saved%s",
      f.name, h and (" (it is checked out by " .. (f.lockedUser and f.lockedUser.name or h.id) .. ")") or ""))
  end
  local cfg = ctx.body
  if type(cfg) ~= "table" or json.is_array(cfg) then
    return respond.error(400, "architect.flow.data.missing", "The flow configuration must be an object")
  end
  if cfg.version ~= f.configuration.version then
    return respond.error(409, "general.conflict", string.format(
      "Flow configuration version %s does not match the current version %d", tostring(cfg.version),
      f.configuration.version), { params = { version = cfg.version, current = f.configuration.version } })
  end
  local problem = check_nodes(ctx, cfg.nodes)
  if problem then
    return respond.error(400, "architect.object.validate.failed", "The flow configuration is not valid: " .. problem)
  end
  local saved = json.copy(cfg)
  saved.version = f.configuration.version + 1
  f.configuration = saved
  ctx.org:flows_changed()
  ctx.sb.dirty = true
  local v = tostring(saved.version)
  return respond.json(200, { id = v, name = f.name, commitVersion = v, configurationVersion = v, type = "SAVE",
    dateCreated = math.floor(sys.time() * 1000), selfUri = "/api/v2/flows/" .. f.id .. "/versions/" .. v })
end

function M.publish(ctx)
  local f, err = flow_param(ctx)
  if not f then return err end
  local other = locked_by_other(ctx, f)
  if other then return other end
  local version = f.configuration.version
  if ctx.query.version then
    version = math.tointeger(tonumber(ctx.query.version))
    if not version or version < 1 or version > f.configuration.version then
      return respond.error(404, "architect.flow.version.missing", "Flow version " .. tostring(ctx.query.version) ..
        " does not exist")
    end
  end
  f.publishedVersion = version
  ctx.sb.dirty = true
  return respond.json(200, { id = string.format("publish-%s-%d", f.id, version), complete = true,
    actionName = "PUBLISH", actionStatus = "SUCCESS" })
end

local function dependency_type(flow_type)
  if flow_type == "WORKFLOW" then return flow_type end
  return (flow_type or "INBOUNDCALL") .. "FLOW"
end

-- GET /api/v2/architect/dependencytracking/consumingresources?id=&objectType=QUEUE
function M.consumers(ctx)
  local id, kind = ctx.query.id, ctx.query.objectType
  if type(id) ~= "string" or type(kind) ~= "string" then
    return respond.error(400, "architect.query.parameter.missing",
      "The query parameters id and objectType are required")
  end
  local page, err = respond.paging(ctx.query, 100)
  if not page then return err end
  local items = {}
  if kind == "QUEUE" then
    if not ctx.org:get("queues", id) then
      return respond.error(404, "architect.dependency.object.not.found", "No dependency object " .. id)
    end
    for _, f in ipairs(ctx.org:flows_using(id)) do
      items[#items + 1] = { id = f.id, name = f.name, type = dependency_type(f.type),
        version = tostring(f.publishedVersion or f.configuration.version), deleted = false, updated = false,
        stateUnknown = false, selfUri = "/api/v2/flows/" .. f.id }
    end
  elseif kind ~= "USER" and kind ~= "ACDSKILL" then
    return respond.error(400, "architect.dependency.object.invalid.type", "Unsupported objectType " .. kind)
  end
  table.sort(items, function(a, b) return a.name < b.name end)
  return respond.listing("/api/v2/architect/dependencytracking/consumingresources", ctx.query, page, items)
end

return M
