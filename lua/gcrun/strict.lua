-- Strict global environments for scripts: reading a global that does not
-- exist, or creating a new one, is an error naming the variable, so a typo
-- in a migration script fails at once instead of acting on nil.
local M = {}

function M.env(base)
  base = base or _G
  return setmetatable({}, {
    __index = function(_, name)
      local v = base[name]
      if v == nil then
        error(string.format("undeclared global '%s'", tostring(name)), 2)
      end
      return v
    end,
    __newindex = function(_, name)
      error(string.format("assignment to undeclared global '%s' (use local)", tostring(name)), 2)
    end,
  })
end

return M
