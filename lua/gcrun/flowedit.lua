-- Applying the flow node rules (gcrun.flows) to a flow configuration for
-- every queue of a run that routes through it, and the conflict loop that
-- gets the edit saved, the same in both dialects. The edit is idempotent:
-- a second pass finds nothing to change, which is how the loop knows an
-- edit has landed.
local http = require "gcrun.http"
local json = require "gcrun.json"
local retry = require "gcrun.retry"

local M = {}

-- edit(config, queues [, rules]) -> changes
-- queues: { {id=, name=, ...}, ... }; changes: { {node=, queue=, field=,
-- before=, after=}, ... }, empty when the configuration already agrees.
-- queues.edit, when set, is an edit of its own (config) -> changes used in
-- place of the node rules: queue-rollback restores recorded node values so.
function M.edit(config, queues, rules)
  if queues.edit then return queues.edit(config) end
  rules = rules or require "gcrun.flows"
  local changes = {}
  for _, node in ipairs(config.nodes or {}) do
    for _, q in ipairs(queues) do
      if rules.routes_to(node, q.id) then
        local fields = {}
        local want = rules.settings(q)
        for k in pairs(want) do fields[#fields + 1] = k end
        table.sort(fields)
        for _, k in ipairs(fields) do
          if not json.equal(node.config[k], want[k]) then
            changes[#changes + 1] = { node = node.id, queue = q.id, field = k, before = node.config[k],
              after = want[k] }
            node.config[k] = json.copy(want[k])
          end
        end
      end
    end
  end
  return changes
end

-- prepare(result, first, queues, how) -> true when there is an edit to save
-- (else result.status says why not: "unchanged", or "planned" for a dry run)
function M.prepare(result, first, queues, how)
  result.name, result.old_version = first.name, first.version
  result.changes = M.edit(json.copy(first), queues)
  if #result.changes == 0 then result.status = "unchanged"; return false end
  if how and how.dry_run then result.status = "planned"; return false end
  return true
end

-- What counts as a conflict for a flow save (the native loop knows no
-- service): 409; a 400 saying the version does not match, as the Platform
-- API answers a stale configuration version; and an answer saying the save
-- was not processed at all (429, 502, 503, 504), which a refetch shows and
-- a resubmit repairs.
function M.is_conflict(resp)
  local s = resp.status
  if s == 409 or s == 429 or s == 502 or s == 503 or s == 504 then return true end
  local body = s == 400 and type(resp.body) == "string" and resp.body or ""
  return body:find("does not match the current version", 1, true) ~= nil
    or body:find("version.validate.failed", 1, true) ~= nil
end

local ATTEMPTS = require("gcrun.defaults").flow_edit_attempts

-- converge{fetch=, save=, queues=, before_save=, result=} -> the loop's
-- outcome: fetch the latest configuration, edit it, save it (on a conflict
-- or an unknown outcome, again from a fresh fetch). Fills result.changes,
-- .attempts, .conflicts, .unknown_outcome; returns {changed=, latest=,
-- response=}.
function M.converge(o)
  local out, waits = {}, 0
  local r = retry.on_conflict {
    fetch = o.fetch,
    modify = function(cfg)
      out.latest = cfg.version
      local changes = M.edit(cfg, o.queues)
      if #changes > 0 then o.result.changes = changes end
      if o.before_save then o.before_save(cfg) end
      return #changes > 0
    end,
    submit = o.save,
    conflict = M.is_conflict,
    sleep = function(seconds)
      waits = waits + 1
      -- a newer version saved meanwhile, a save not processed, or one whose answer never came
      http.sleep(seconds, { say = string.format("flow '%s' is to be saved again from a fresh read", o.result.name),
        detail = string.format("attempt %d of %d", waits + 1, ATTEMPTS) })
    end,
    attempts = ATTEMPTS,
  }
  o.result.attempts, o.result.conflicts, o.result.unknown_outcome = r.attempts, r.conflicts, r.unknown or nil
  out.changed, out.response, out.unknown = r.changed, r.response, r.unknown
  return out
end

return M
