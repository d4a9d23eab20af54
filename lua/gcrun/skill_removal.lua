-- A skill at level 0 in a definition is removed from the queue's members.
-- The Platform API has no removal in its bulk PATCH (proficiency 0 is a
-- level like any other), so each removal is one
-- DELETE /api/v2/users/{userId}/routingskills/{skillId}.
local defaults = require "gcrun.defaults"

local M = {}

-- split(api, assignment, current) -> the skills left to PATCH, batch size.
-- Sends the assignment's removals first; `current` follows each one.
function M.split(api, a, current)
  local set = {}
  for _, s in ipairs(a.skills) do
    if s.level == 0 then
      api:call({ method = "DELETE", path = "/api/v2/users/{id}/routingskills/{skill}",
        params = { id = a.user, skill = s.id }, idempotent = true }, "remove skill from " .. (a.name or a.user))
      current.agents[a.user].skills[s.id] = nil
    else
      set[#set + 1] = s
    end
  end
  return set, defaults.skill_batch
end

return M
