-- Applying the flow node rules (gcrun.flows) to a flow configuration for
-- every queue of a run that routes through it. Idempotent: a second pass
-- finds nothing to change, which is how the conflict loop knows an edit
-- has landed.
local json = require "gcrun.json"

local M = {}

-- edit(config, queues [, rules]) -> changes
-- queues: { {id=, name=, ...}, ... }; changes: { {node=, queue=, field=,
-- before=, after=}, ... }, empty when the configuration already agrees.
function M.edit(config, queues, rules)
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

return M
