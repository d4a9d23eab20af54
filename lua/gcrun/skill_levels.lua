-- Agents' skills belong to the agent, not to a queue: two definitions that
-- give one agent the same skill at different levels would undo each other
-- on every run. The highest level wins, in every run, with a warning; a
-- removal (level 0) loses to any definition that gives the skill.
local log = require "gcrun.log"

local M = {}

-- settle(defs [, names]) -> {agent = {skill = level}} for the agents and
-- skills asked at more than one level (the others need no override); warns
-- about each, naming agents and skills by name when `names` ({users =,
-- skills =}, id -> name) knows them. Definitions that leave members out
-- are not compared (their members are known only once read).
function M.settle(defs, names)
  names = names or {}
  local users, skill_names = names.users or {}, names.skills or {}
  local asked = {}   -- agent -> skill -> { level = highest, files = {file = level} }
  local label = {}   -- agent -> what a file called it (an email)
  for _, def in ipairs(defs) do
    for _, m in ipairs(def.members or {}) do
      asked[m.id] = asked[m.id] or {}
      label[m.id] = label[m.id] or m.label
      for _, s in ipairs(def.skills or {}) do
        local a = asked[m.id][s.id] or { level = s.level, files = {} }
        asked[m.id][s.id] = a
        a.files[def.file] = s.level
        if s.level > a.level then a.level = s.level end
      end
    end
  end
  local levels, conflicts = {}, {}
  for agent, skills in pairs(asked) do
    for skill, a in pairs(skills) do
      local distinct = {}
      for _, l in pairs(a.files) do distinct[l] = true end
      if next(distinct, next(distinct)) then
        levels[agent] = levels[agent] or {}
        levels[agent][skill] = a.level
        local parts = {}
        for file, l in pairs(a.files) do
          parts[#parts + 1] = l == 0 and ("removed by " .. file) or string.format("%s from %s", l, file)
        end
        table.sort(parts)
        local who = users[agent] or label[agent]
        who = who and string.format("%s (%s)", who, agent:sub(1, 8)) or agent
        conflicts[#conflicts + 1] = string.format("agent %s gets skill %s at levels %s: %s is used for all",
          who, skill_names[skill] or skill, table.concat(parts, ", "), a.level)
      end
    end
  end
  table.sort(conflicts)
  for i, c in ipairs(conflicts) do
    if i > 10 then
      log.warn(string.format("... and %d more agents' skills asked at different levels (-v lists them)",
        #conflicts - 10))
      for j = 11, #conflicts do log.verbose(conflicts[j]) end
      break
    end
    log.warn(c)
  end
  return levels
end

return M
