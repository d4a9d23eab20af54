-- queue-sync --check: a dry run that answers one question for a pipeline,
-- does the org match the definitions? Exit 0 when it does, 5 when it has
-- drifted (something would change), 1 when the check itself failed, as
-- Terraform's `plan -detailed-exitcode` does. The drift is the plan: what
-- a dry run prints and reports.
local json = require "gcrun.json"
local log = require "gcrun.log"
local text = require "gcrun.text"

local M = {}

M.DRIFTED = 5

-- drift(run) -> {drifted=, queues = {id...}, flows = {id...}}: the queues
-- and flows a run would change.
function M.drift(run)
  local d = { queues = json.array({}), flows = json.array({}) }
  for _, rec in ipairs(run.queues) do
    if rec.status == "planned" then d.queues[#d.queues + 1] = rec.queue_id end
  end
  for _, f in ipairs(run.flows or {}) do
    if f.status == "planned" then d.flows[#d.flows + 1] = f.id end
  end
  d.drifted = #d.queues + #d.flows > 0
  return d
end

-- finish(run, status) -> the exit status of the check, after a line
-- saying what drifted. status: the run's own (failures win).
function M.finish(run, status)
  local d = run.check
  if status ~= 0 then return status end
  if not d.drifted then
    log.event(0, "summary", "no drift: the org matches the definitions", { drifted = false })
    return 0
  end
  log.event(0, "summary", string.format("drift: %s and %s differ from the definitions",
    text.plural(#d.queues, "queue"), text.plural(#d.flows, "flow")),
    { drifted = true, queues = #d.queues, flows = #d.flows })
  return M.DRIFTED
end

return M
