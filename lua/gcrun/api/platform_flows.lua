-- The locked edit of one Architect flow in the Platform API v2: checkout,
-- latest configuration, save a version (refetch and reapply on 409),
-- publish, checkin.
--
-- The lock promise: a flow this run may have checked out is checked in
-- again before the run ends, whatever ends it (a failure, SIGINT, SIGTERM,
-- SIGHUP, SIGQUIT). A checkout whose answer never came (a signal aborts
-- the transfer after the service applied it) counts as held. The checkin
-- is sent as cleanup work, which an interrupt does not stop; what could
-- not be released is named in the result (left_locked).
--
-- The writes the service acknowledged are in the result, interrupted or
-- not: when a save or a publish was in flight as the edit stopped, one
-- read of the flow (also cleanup work) says which version is saved and
-- which is published, and the result says so.
local answers = require "gcrun.api.answers"
local call = require "gcrun.api.call"
local defaults = require "gcrun.defaults"
local errors = require "gcrun.errors"
local flowedit = require "gcrun.flowedit"
local http = require "gcrun.http"
local records = require "gcrun.result"
local retry = require "gcrun.retry"

local M = {}

local ACTION = "/api/v2/flows/actions/"
local FLOW, LATEST = "/api/v2/flows/{id}", "/api/v2/flows/{id}/latestconfiguration"

local function latest(api, flow_id)
  return answers.object(api:call({ path = LATEST, params = { id = flow_id } },
    "GET flow configuration"):json(), "GET flow configuration " .. flow_id)
end

-- Check the flow out, waiting while another user holds it (or breaking
-- their lock with force_unlock). track.hold is "unknown" while a checkout
-- is in flight, "held" once the service said yes, nil after a refusal.
local function checkout(api, flow_id, result, track)
  local n, waited = 0, 0
  local limit = api.opts.lock_wait or defaults.lock_wait
  while true do
    track.hold = "unknown"
    local resp = call.send(api, { method = "POST", path = ACTION .. "checkout", query = { flow = flow_id },
      idempotent = true })
    if resp.status >= 200 and resp.status < 300 then track.hold = "held"; return end
    track.hold = nil
    if resp.status ~= 409 then call.check(api, resp, "check out flow " .. flow_id) end
    local holder = call.problems(resp)[1].message
    result.lock_waits = (result.lock_waits or 0) + 1
    if api.opts.force_unlock then
      api:call({ method = "POST", path = ACTION .. "unlock", query = { flow = flow_id }, idempotent = true },
        "unlock flow " .. flow_id)
      result.unlocked = holder
    elseif waited >= limit then
      errors.raise("locked", "%s; still locked after %.0f s (--force-unlock breaks the lock)", holder, waited)
    else
      n = n + 1
      local wait = retry.backoff(n, 0.25, 4, 1)
      http.sleep(wait, { say = string.format("flow '%s' is locked by another user", result.name or flow_id),
        detail = string.format("wait %d, %.0f s of at most %.0f s so far; --force-unlock breaks the lock",
          n, waited, limit) })
      waited = waited + wait
    end
  end
end

-- A read made as cleanup work, so that it is sent after an interrupt too:
-- the flow (name, lock holder, versions) or, with LATEST, its latest
-- configuration; nil when the service does not say.
local function look(api, flow_id, path)
  local resp, err = api.c.safe:request { path = path or FLOW, params = { id = flow_id }, idempotent = true,
    cleanup = true }
  call.count(api, resp or err)
  if not resp or resp.status ~= 200 then return nil end
  local ok, view = pcall(resp.json, resp, { read_only = true })
  return ok and type(view) == "table" and view or nil
end

local function version_of(v)
  return type(v) == "table" and math.tointeger(tonumber(v.id)) or nil
end

local function locked(view)
  return type(view.lockedUser) == "table" or type(view.lockedClient) == "table"
end

-- Check the flow in. A refusal because another user holds it means the
-- lock is not ours (a checkout that never got its answer may not have
-- landed; an administrator may have broken our lock). Any other failure:
-- read the flow, and if it is still locked, say it was left locked.
local function release(api, flow_id, result, hold)
  local resp, err = api.c.safe:request { method = "POST", path = ACTION .. "checkin", query = { flow = flow_id },
    idempotent = true, cleanup = true }
  call.count(api, resp or err)
  if resp and resp.status == 200 then return end
  local why = err and (err.message or "no answer")
    or string.format("HTTP %d: %s", resp.status, call.problems(resp)[1].message)
  if resp and resp.status == 409 then
    if hold == "held" then result.checkin_failed = why end
    return
  end
  local view = look(api, flow_id)
  if view and not locked(view) then return end
  result.checkin_failed = why
  result.left_locked = true
end

-- After an edit that stopped early: which of the writes in flight (a save
-- or a publish whose answer never came: track.saving, track.publishing)
-- landed. A save landed when a later configuration already has the edit
-- (the edit is idempotent, as in the conflict loop); a publish, when the
-- flow's published version is the one we asked for.
local function settle(api, flow_id, queues, result, track, err)
  local interrupted = errors.is(err, "interrupted")
  if track.saving then
    local cfg = look(api, flow_id, LATEST)
    local v = cfg and math.tointeger(tonumber(cfg.version))
    if v and v > track.saving and #flowedit.edit(cfg, queues) == 0 then track.saved = v end
  end
  if track.publishing or (interrupted and not result.name) then
    local view = look(api, flow_id)
    if view then
      result.name = result.name or view.name
      if track.publishing and version_of(view.publishedVersion) == track.publishing then track.published = true end
    end
  end
  if track.published then
    -- the edit is live: only the checkin (above) was left to do
    result.status, result.new_version = "updated", track.saved
    return
  end
  records.failed(result, err)
  if track.saved then
    result.saved_version = track.saved
    result.error = string.format("%s; version %d was saved but not published", result.error, track.saved)
  else
    result.changes = {}      -- nothing of the edit reached the service
  end
end

-- edit(api, flow_id, queues, {dry_run=}) -> a gcrun.result flow record,
-- status "updated", "unchanged", "planned", "failed" or "interrupted",
-- plus saved_version (saved, not published) and left_locked. A failure or
-- an interrupt is in the record, not raised, so that what the service
-- acknowledged stays with the flow.
function M.edit(api, flow_id, queues, how)
  local result = records.flow(flow_id, api.counters)
  local track = {}
  local ok, err = pcall(function()
    -- the configuration read when the flows were found (gcrun.orgread), if it was
    local first = api.shared.finder and api.shared.finder.config(flow_id) or latest(api, flow_id)
    if not flowedit.prepare(result, first, queues, how) then return end
    checkout(api, flow_id, result, track)
    local r = flowedit.converge {
      result = result, queues = queues,
      fetch = function() return latest(api, flow_id) end,
      save = function(cfg)
        track.saving, track.saved = cfg.version, nil
        local resp = call.send(api, { method = "POST", path = "/api/v2/flows/{id}/versions",
          params = { id = flow_id }, json = cfg })
        track.saving = nil             -- answered: no doubt about this one
        if resp.status == 200 then
          track.saved = math.tointeger(tonumber(resp:json({ read_only = true }).id)) or cfg.version + 1
        end
        return resp
      end,
    }
    if r.changed then
      -- after an unknown outcome the loop's last fetch found our edit saved
      track.saved = (r.response and r.response.status == 200 and track.saved) or r.latest
      track.publishing = track.saved
      local resp = call.send(api, { method = "POST", path = ACTION .. "publish",
        query = { flow = flow_id, version = track.saved }, idempotent = true }, "publish flow " .. flow_id)
      track.publishing = nil
      call.check(api, resp, "publish flow " .. flow_id)
      track.published = true
      result.status, result.new_version = "updated", track.saved
    else
      result.status = "unchanged"    -- someone else made the same edit meanwhile
    end
  end)
  -- always check the flow in again, also after a failure or an interrupt
  if track.hold then release(api, flow_id, result, track.hold) end
  if not ok then settle(api, flow_id, queues, result, track, err) end
  return result
end

return M
