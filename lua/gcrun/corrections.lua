-- Validation-error correction rules. Each rule explains a problem, from
-- the definition files, from the plan (what the org has), or from a 400
-- answer of the service in either dialect, and corrects the desired state
-- so the request can be sent again. A problem says what is wrong in
-- `kind` (unknown-skill, unknown-user, duplicate-member, duplicate-skill,
-- duplicate-name, invalid-value, not-found, conflict, ...), which
-- definition field it is about in `definition_field` (wrap_up_policy,
-- skills, members, ...) and which id in `entity`; `message` is the
-- service's own text, `source` says where the problem came from
-- (definition, plan, service). Rules match on kind and fields, never on
-- the service's wording (gcrun.api.problems explains how answers are read).
--
-- match(problem, desired) returns what fix needs (an id, or true) when the
-- rule explains the problem. fix(desired, matched, problem) changes
-- `desired` and returns a sentence saying what it changed, or nil when
-- there was nothing to change (the problem then fails the queue).
--
-- To change the rules for your runs, copy this file to
-- ~/.config/gcrun/gcrun/corrections.lua, or pass --rules FILE with a file
-- that returns a list like this one, or a function(bundled) returning one.

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
    -- the org has no such skill; assign the others
    match = function(p)
      if p.kind == "unknown-skill" then return p.entity end
    end,
    fix = function(desired, id)
      for i, s in ipairs(desired.skills) do
        if s.id == id then
          table.remove(desired.skills, i)
          return string.format("removed unknown skill '%s' (level %s)", s.label or id, s.level)
        end
      end
    end },

  { name = "duplicate-member",
    -- a member listed twice: keep the member's first entry (true when the
    -- service did not say which member: every duplicate is removed)
    match = function(p)
      if p.kind == "duplicate-member" then return p.entity or true end
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
            removed, removed == 1 and "y" or "ies", first.label or one, first.priority)
        end
      end
      if #changes > 0 then return table.concat(changes, "; ") end
    end },

  { name = "duplicate-skill",
    match = function(p)
      if p.kind == "duplicate-skill" then return p.entity end
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
      return p.kind == "invalid-value" and p.definition_field == "wrap_up_policy"
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
