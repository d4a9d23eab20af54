-- Names for what a queue's report entry names by id (members added,
-- removed and re-ringed, agents and skills whose levels changed), and each
-- skill's level before the run, so the report can say "Ada Lovelace:
-- Billing 3 -> 5" and not only ids. Taken from the state the engine read
-- for the queue, before the task lets it go.
local M = {}

-- note(entry, skill_names): fills entry.names ({id = name}) and the
-- `before` level of each assigned skill; drops entry.before.
function M.note(entry, skill_names)
  local before, after = entry.before or entry.current or {}, entry.current or {}
  local known = {}
  for _, state in ipairs { before, after } do
    for _, m in ipairs(state.members or {}) do if m.name then known[m.id] = m.name end end
    for id, a in pairs(state.agents or {}) do if a.name then known[id] = a.name end end
  end
  local names = {}
  local function name(id, from)
    if id ~= nil and from[id] ~= nil then names[id] = from[id] end
  end
  for _, id in ipairs(entry.members_added or {}) do name(id, known) end
  for _, id in ipairs(entry.members_removed or {}) do name(id, known) end
  for _, r in ipairs(entry.ring_changes or {}) do name(r.member, known) end
  -- pending_skills: written after the queues (gcrun.sync_agents), then
  -- moved to skill_assignments with the names and levels noted here
  local assigned = {}
  for _, list in ipairs { entry.skill_assignments or {}, entry.pending_skills or {} } do
    table.move(list, 1, #list, #assigned + 1, assigned)
  end
  for _, a in ipairs(assigned) do
    name(a.user, known)
    local had = (before.agents or {})[a.user]
    for _, s in ipairs(a.skills or {}) do
      name(s.id, skill_names or {})
      local level = had and had.skills and had.skills[s.id]
      s.before = level and (math.tointeger(level) or level) or nil   -- listings decode 2 as 2.0
    end
  end
  entry.names = names
  entry.before = nil
end

return M
