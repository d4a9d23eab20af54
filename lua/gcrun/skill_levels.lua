-- Agents' skills belong to the agent, not to a queue: two definitions that
-- give one agent the same skill at different levels would undo each other
-- on every run. The highest level wins, in every run, with a warning; a
-- removal (level 0) loses to any definition that gives the skill.
local definitions = require "gcrun.definitions"
local log = require "gcrun.log"

local M = {}

-- settle(defs [, names]) -> {agent = {skill = level}} for the agents and
-- skills asked at more than one level (the others need no override), and
-- what the run gives (for M.kept: {agents = {agent = {skill = {level=,
-- file=}}}, names =, warned = {}}); warns
-- about each, naming agents and skills by name when `names` ({users =,
-- skills =}, id -> name) knows them. A definition that leaves members out
-- is compared once its queue's members are read: M.kept says whether a
-- removal it asks for loses to a skill another definition gives.
function M.settle(defs, names)
  names = names or {}
  local users, skill_names = names.users or {}, names.skills or {}
  local asked = {}   -- agent -> skill -> { level = highest, files = {file = level} }
  local label = {}   -- agent -> what a file called it (an email)
  local given = {}   -- agent -> skill -> {level=, file=}: given above 0 by a definition with members
  local by_file = {}   -- file -> definition, for the warnings the report keeps with each
  for _, def in ipairs(defs) do
    by_file[def.file] = def
    for _, m in ipairs(def.members or {}) do
      asked[m.id] = asked[m.id] or {}
      label[m.id] = label[m.id] or m.label
      for _, s in ipairs(def.skills or {}) do
        local a = asked[m.id][s.id] or { level = s.level, files = {} }
        asked[m.id][s.id] = a
        a.files[def.file] = s.level
        if s.level > a.level then a.level = s.level end
        if s.level > 0 then
          given[m.id] = given[m.id] or {}
          local g = given[m.id][s.id]
          if not g or s.level > g.level then given[m.id][s.id] = { level = s.level, file = def.file } end
        end
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
        for file in pairs(a.files) do definitions.add_warning(by_file[file], conflicts[#conflicts]) end
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
  return levels, { agents = given, names = skill_names, warned = {}, defs = by_file }
end

-- kept(given, agent, agent_name, skill, file) -> true when a definition of this
-- run gives the agent the skill that `file` removes (from a queue whose
-- members it leaves as they are): the removal is not made, with a warning.
function M.kept(given, agent, agent_name, skill, file)
  local g = given and given.agents[agent] and given.agents[agent][skill]
  if not g then return false end
  local key = agent .. "\0" .. skill .. "\0" .. file
  if not given.warned[key] then
    given.warned[key] = true
    local message = string.format("agent %s (%s) gets skill %s at levels %s from %s, removed by %s: %s is used for all",
      agent_name or agent, agent:sub(1, 8), given.names[skill] or skill, g.level, g.file, file, g.level)
    log.warn(message)
    for _, f in ipairs { g.file, file } do
      if given.defs and given.defs[f] then definitions.add_warning(given.defs[f], message) end
    end
  end
  return true
end

return M
