-- What changed where, as a graph for the impact report: the queues that
-- changed and the flows edited for them (queue -> flow edges), each flow
-- with its versions and lock waits. Built from the report's own `changes`
-- and `flows`, so the picture and the JSON say the same.
local json = require "gcrun.json"

local M = {}

local CHANGED = { updated = true, planned = true }

-- A flow counts as edited unless it was left alone (`unchanged`): an
-- update, a planned edit (dry run), or an attempt that failed.
function M.edited(flow) return flow.status ~= "unchanged" end

-- of(changes, flows) -> { queues = {{id, name, status}}, flows = {{id,
-- name, status, old_version, new_version, lock_waits}}, edges = {{queue,
-- flow}} }, queues and flows in report order.
function M.of(changes, flows)
  local g = { queues = json.array({}), flows = json.array({}), edges = json.array({}) }
  local linked = {}
  for _, f in ipairs(flows or {}) do
    if M.edited(f) then
      g.flows[#g.flows + 1] = { id = f.id, name = f.name, status = f.status, old_version = f.old_version,
        new_version = f.new_version, lock_waits = f.lock_waits or 0 }
      for _, q in ipairs(f.queues or {}) do
        g.edges[#g.edges + 1] = { queue = q, flow = f.id }
        linked[q] = true
      end
    end
  end
  for _, c in ipairs(changes or {}) do
    if CHANGED[c.status] or linked[c.queue_id] then
      g.queues[#g.queues + 1] = { id = c.queue_id, name = c.queue_name, status = c.status }
    end
  end
  return g
end

return M
