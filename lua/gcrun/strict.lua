-- Strict global environments for scripts: reading a global that does not
-- exist, or creating a new one, is an error naming the variable, so a typo
-- in a migration script fails at once instead of acting on nil.
local errors = require "gcrun.errors"

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

-- without_exit(base, who [, what]) -> a base like `base` whose os.exit
-- raises an error naming `who` instead of ending the process: a rule file
-- (or a policy module from a user's folder, `what` says which) that
-- called it would end the run with status 0, no report, and flows perhaps
-- left checked out. (require "os" gets the same table.)
function M.without_exit(base, who, what)
  local os_ = {}
  for k, v in pairs(base.os) do os_[k] = v end
  os_.exit = function()
    error(errors.new("input", string.format("%s called os.exit; %s cannot end the run", who,
      what or "a rule file")), 0)
  end
  local require_ = base.require
  return setmetatable({ os = os_, require = function(name)
    if name == "os" then return os_ end
    return require_(name)
  end }, { __index = base })
end

return M
