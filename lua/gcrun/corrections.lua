-- Validation-error correction rules. Each rule explains a problem, from
-- the definition files, from the plan (what the org has), or from a 400
-- answer of the service in either dialect, and corrects the desired state
-- so the request can be sent again. A problem is a table with `message`
-- and, where known, `code`, `field` (the field the service named) and
-- `entity` (the id it named); `source` says where it came from.
--
-- match(problem, desired) returns what fix needs (an id, or true) when the
-- rule explains the problem. fix(desired, matched, problem) changes
-- `desired` and returns a sentence saying what it changed, or nil when
-- there was nothing to change (the problem then fails the queue).
--
-- To change the rules for your runs, copy this file to
-- ~/.config/gcrun/gcrun/corrections.lua, or pass --rules FILE with a file
-- that returns a list like this one, or a function(bundled) returning one.

local function quoted(message) return message:match("'([^']+)'") end

local function lower(p) return (p.message or ""):lower() end

-- Remove the entries of `list` with this id after the first; return the
-- first and how many were removed.
local function dedupe(list, id)
  local first, removed, kept = nil, 0, {}
  for _, e in ipairs(list) do
    if e.id == id then
      if first then removed = removed + 1 else first = e; kept[#kept + 1] = e end
    else
      kept[#kept + 1] = e
    end
  end
  for i = 1, #list do list[i] = kept[i] end
  return first, removed
end

return {
  { name = "unknown-skill",
    -- "Skill 'x' not found": the org has no such skill; assign the others
    match = function(p)
      local m = lower(p)
      if m:find("skill", 1, true) and (m:find("not found", 1, true) or p.code == "not.found") then
        return quoted(p.message) or p.entity
      end
    end,
    fix = function(desired, id)
      for i, s in ipairs(desired.skills) do
        if s.id == id then
          table.remove(desired.skills, i)
          return string.format("removed unknown skill '%s' (level %s)", id, s.level)
        end
      end
    end },

  { name = "duplicate-member",
    -- "Duplicate member 'x'": keep the member's first entry
    match = function(p)
      local m = lower(p)
      if m:find("member", 1, true) and m:find("duplicate", 1, true) then
        return quoted(p.message) or p.entity or true
      end
    end,
    fix = function(desired, id)
      local changes = {}
      local ids = {}
      if id == true then
        local seen = {}
        for _, e in ipairs(desired.members) do
          if seen[e.id] and not ids[e.id] then ids[#ids + 1] = e.id; ids[e.id] = true end
          seen[e.id] = true
        end
      else
        ids = { id }
      end
      for _, one in ipairs(ids) do
        local first, removed = dedupe(desired.members, one)
        if removed > 0 then
          changes[#changes + 1] = string.format("removed %d duplicate entr%s of member '%s' (kept priority %s)",
            removed, removed == 1 and "y" or "ies", one, first.priority)
        end
      end
      if #changes > 0 then return table.concat(changes, "; ") end
    end },

  { name = "duplicate-skill",
    match = function(p)
      local m = lower(p)
      if m:find("skill", 1, true) and m:find("duplicate", 1, true) then return quoted(p.message) or p.entity end
    end,
    fix = function(desired, id)
      local first, removed = dedupe(desired.skills, id)
      if removed > 0 then
        return string.format("removed a duplicate of skill '%s' (kept level %s)", id, first.level)
      end
    end },

  { name = "invalid-wrap-up-policy",
    -- an unknown wrap_up_policy (or a wrapupPrompt the service refused)
    -- becomes "required", as in the tutorial
    match = function(p)
      local m = lower(p)
      return m:find("wrap_up_policy", 1, true) or p.field == "acwSettings.wrapupPrompt"
        or m:find("field wrapupprompt", 1, true)
    end,
    fix = function(desired)
      local valid = { required = true, optional = true, none = true }
      if not valid[desired.wrap_up_policy] then
        local old = desired.wrap_up_policy
        desired.wrap_up_policy = "required"
        return string.format("wrap_up_policy '%s' is not valid; used 'required'", tostring(old))
      end
    end },
}
