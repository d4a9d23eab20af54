-- A custom rule file for queue-sync (--rules examples/rules/drop-unknown-members.lua).
--
-- It keeps the bundled rules and adds one: a member who is not a user of
-- the org is left out (and the correction recorded) instead of failing the
-- whole queue. Returning a function lets the file extend the bundled list;
-- returning a list would replace it. Rules match a problem's `kind` and
-- fields (see lua/gcrun/corrections.lua), never the service's wording.
return function(bundled)
  table.insert(bundled, 1, {
    name = "drop-unknown-member",
    match = function(problem)
      if problem.kind == "unknown-user" then return problem.entity end
    end,
    fix = function(desired, id)
      for i, m in ipairs(desired.members) do
        if m.id == id then
          table.remove(desired.members, i)
          return string.format("left out member '%s': no such user in the org", id)
        end
      end
    end,
  })
  return bundled
end
