-- A definition naming a queue the org does not have (no queue_id, no
-- queue of that name): the queue is created with POST
-- /api/v2/routing/queues, then brought to the definition like any other.
--
-- The service is eventually consistent: a queue just created can answer
-- 404 and be missing from lists for a few seconds, while its name is
-- already taken (400 duplicate.name). So after the POST gcrun waits until
-- the queue answers, and a duplicate.name (a queue made meanwhile, or one
-- the run's listing did not show yet) is looked up by name and updated
-- instead. The official Terraform provider waits on 404 after creating in
-- the same way.
local call = require "gcrun.api.call"
local defaults = require "gcrun.defaults"
local errors = require "gcrun.errors"
local http = require "gcrun.http"
local mapping = require "gcrun.mapping"
local retry = require "gcrun.retry"
local sys = require "gcrun.sys"

local M = {}

local QUEUES = "/api/v2/routing/queues"

-- until(what, try) -> try()'s first non-nil answer, polled with backoff
-- for defaults.queue_lag_wait seconds; raises not_found after.
local function poll(what, try)
  local n, deadline = 0, sys.clock() + defaults.queue_lag_wait
  while true do
    local v = try()
    if v ~= nil then return v end
    n = n + 1
    local wait = retry.backoff(n, 0.25, 2, 1)
    if sys.clock() + wait > deadline then
      errors.raise("not_found", "%s: still not visible after %d s", what, defaults.queue_lag_wait)
    end
    http.sleep(wait)
  end
end

local function visible(api, id)
  poll("new queue " .. id, function()
    local resp = call.send(api, { path = QUEUES .. "/{id}", params = { id = id } })
    if resp.status ~= 404 then return call.check(api, resp, "GET queue " .. id) end
  end)
end

local function by_name(api, name)
  return poll("queue '" .. name .. "'", function()
    for _, q in ipairs(api:pages(QUEUES, nil, { name = name }, "GET queues by name")) do
      if q.name:lower() == name:lower() then return q.id end
    end
  end)
end

-- blank(api, def) -> the state a queue to be created starts from (the
-- plan of a dry run): no fields, no members; the agents as they are.
function M.blank(api, def)
  local ids = {}
  for _, m in ipairs(def.members or {}) do if not m.unresolved then ids[#ids + 1] = m.id end end
  return { queue = {}, members = {}, agents = #ids > 0 and api:agents(ids) or {}, flows = {} }
end

-- create(api, desired) -> the new queue's id, once the queue answers;
-- created is false when the name turned out to be taken (the queue with
-- it is returned, to be updated).
function M.create(api, desired)
  local req = { method = "POST", path = QUEUES, json = mapping.create_request(desired) }
  local resp = call.send(api, req)
  if resp.status == 400 and call.problems(resp, req)[1].kind == "duplicate-name" then
    return by_name(api, desired.name), false
  end
  local id = call.check(api, resp, "create queue '" .. desired.name .. "'", req):json().id
  visible(api, id)
  return id, true
end

-- start(ctx, api, rec, desired) -> the current state to plan against:
-- the created queue as read, or (dry run) a blank one. Raises not_found
-- under --no-create.
function M.start(ctx, api, rec, desired)
  local def = rec.def
  if ctx.no_create then
    errors.raise("not_found", "no queue named '%s' in this org (--no-create: not created)", def.name)
  end
  rec.created = true
  if ctx.dry_run then return M.blank(api, def) end
  local id, created = M.create(api, desired)
  def.queue_id, rec.queue_id, rec.created = id, id, created
  return api:read(def)
end

return M
