-- The flows step of a sync: which flows route to which synced queues
-- (dependency tracking, the files' `flows`, --flow), then one edit per
-- flow for all its queues, flows --concurrency at a time; each queue's
-- record is told which of its flows changed.
local http = require "gcrun.http"
local output = require "gcrun.sync_output"
local records = require "gcrun.result"

local M = {}

-- group(records, {dry_run=, extra_flows=}) -> by_flow, order
-- by_flow: flow id -> { {id=, name=, record=}, ... }. Queues that did not
-- settle are left out: their nodes keep naming the queue as it still is.
function M.group(queues, ctx)
  local by_flow, order = {}, {}
  local function add(flow_id, rec)
    local list = by_flow[flow_id]
    if not list then list = {}; by_flow[flow_id] = list; order[#order + 1] = flow_id end
    for _, q in ipairs(list) do if q.id == rec.queue_id then return end end
    local name = ctx.dry_run and rec.queue_name or rec.final_name
    list[#list + 1] = { id = rec.queue_id, name = name, record = rec }
  end
  for _, rec in ipairs(queues) do
    if records.SETTLED[rec.status] and rec.queue_id then   -- (a queue a dry run would create has none)
      for _, f in ipairs(rec.consumers or {}) do add(f.id, rec) end
      for _, f in ipairs(rec.def.flows) do add(f, rec) end
      for _, f in ipairs(ctx.extra_flows or {}) do add(f, rec) end
    end
  end
  return by_flow, order
end

-- sync(ctx, queues) -> flow records, in the order the flows were found
function M.sync(ctx, queues)
  local by_flow, order = M.group(queues, ctx)
  local results = http.parallel(order, function(flow_id)
    local api = ctx.api:scope()
    local ok, r = pcall(api.edit_flow, api, flow_id, by_flow[flow_id], { dry_run = ctx.dry_run })
    if not ok then
      local failed = records.failed(records.flow(flow_id, api.counters), r)
      failed.checkin_failed = type(r) == "table" and r.checkin_failed or nil
      r = failed
    end
    r.queues = {}
    for _, q in ipairs(by_flow[flow_id]) do r.queues[#r.queues + 1] = q.id end
    return r
  end, { concurrency = ctx.concurrency })
  local flows = {}
  for i, flow_id in ipairs(order) do
    local r = results[i]
    flows[#flows + 1] = r
    for _, q in ipairs(by_flow[flow_id]) do
      local rec = q.record
      rec.flows[#rec.flows + 1] = r
      for _, c in ipairs(r.changes or {}) do
        if c.queue == rec.queue_id and r.status == "updated" then rec.flow_node_updated = true end
      end
    end
    output.flow(r)
  end
  return flows
end

return M
