-- The agents step of a sync: an agent's skills belong to the agent, not to
-- a queue, so an agent in five queues is patched once, for all of them,
-- after the queues' own writes. Each queue's plan says which of its
-- members need which skills (rec.pending_skills); here they are merged per
-- agent (the highest level of a skill wins, as gcrun.skill_levels settles
-- it), sent, and each queue's record then says what was written for it,
-- or fails with the agent's error: a queue is finished only once its
-- agents' skills are.
local defaults = require "gcrun.defaults"
local errors = require "gcrun.errors"
local http = require "gcrun.http"
local records = require "gcrun.result"
local signal = require "gcrun.signal"

local M = {}

-- merge(queues) -> per agent {user=, skills = { {id=, level=} }}, in the
-- order the queues first ask for them, and the records that wait
function M.merge(queues)
  local by_agent, order, waiting = {}, {}, {}
  for _, rec in ipairs(queues) do
    if rec.pending_skills then
      waiting[#waiting + 1] = rec
      for _, a in ipairs(rec.pending_skills) do
        local e = by_agent[a.user]
        if not e then
          e = { user = a.user, name = a.name, skills = {}, at = {} }
          by_agent[a.user], order[#order + 1] = e, e
        end
        for _, s in ipairs(a.skills) do
          local i = e.at[s.id]
          if not i then
            e.skills[#e.skills + 1] = { id = s.id, level = s.level }
            e.at[s.id] = #e.skills
          elseif s.level > e.skills[i].level then
            e.skills[i].level = s.level
          end
        end
      end
    end
  end
  return by_agent, order, waiting
end

-- sync(ctx, queues, api, finished): api is a view whose counters the run
-- reports; finished(rec) is called for each waiting queue once settled.
function M.sync(ctx, queues, api, finished)
  local by_agent, order, waiting = M.merge(queues)
  if #order > 0 and not signal.interrupted() then
    http.parallel(order, function(e)
      local ok, err = pcall(api.assign_skills, api, e.user, e.skills, nil, e.name)
      e.ok, e.err = ok, not ok and err or nil
    end, { concurrency = ctx.concurrency * defaults.write_fanout })
  end
  for _, rec in ipairs(waiting) do
    local written, failure = {}, nil
    for _, a in ipairs(rec.pending_skills) do
      local e = by_agent[a.user]
      if e.ok then
        written[#written + 1] = a
      elseif not failure then
        failure = e.err or errors.new("interrupted", "interrupted before the agents' skills were written")
      end
    end
    table.move(written, 1, #written, #rec.skill_assignments + 1, rec.skill_assignments)
    if #written > 0 and rec.status == "unchanged" then rec.status = "updated" end
    if failure then records.failed(rec, failure) end
    rec.pending_skills = nil
    finished(rec)
  end
end

return M
