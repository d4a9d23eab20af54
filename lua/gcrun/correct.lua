-- The correction engine: runs the rules (gcrun.corrections, or a user's
-- rule file) over problems and records what each changed.
local errors = require "gcrun.errors"
local strict = require "gcrun.strict"

local M = {}

local function check_rules(rules, where)
  if type(rules) ~= "table" then errors.raise("input", "%s: must return a list of rules", where) end
  for i, r in ipairs(rules) do
    if type(r) ~= "table" or type(r.name) ~= "string" or type(r.match) ~= "function" or type(r.fix) ~= "function" then
      errors.raise("input", "%s: rule %d needs a name, a match function and a fix function", where, i)
    end
  end
  return rules
end

-- load([path]) -> rules: the bundled ones, or those of a rule file, which
-- returns a list of rules or a function(bundled) returning one.
function M.load(path)
  local bundled = check_rules(require "gcrun.corrections", "gcrun.corrections")
  if not path then return bundled end
  local chunk, err = loadfile(path, "t", strict.env(strict.without_exit(_G, "rule file " .. path)))
  if not chunk then errors.raise("input", "rule file %s", err) end
  local ok, result = pcall(chunk)
  if not ok and errors.is(result, "input") then error(result, 0) end   -- names the file already
  if not ok then errors.raise("input", "rule file %s: %s", path, errors.message(result)) end
  if type(result) == "function" then
    local copy = {}
    for i, r in ipairs(bundled) do copy[i] = r end
    ok, result = pcall(result, copy)
    if not ok and errors.is(result, "input") then error(result, 0) end
    if not ok then errors.raise("input", "rule file %s: %s", path, errors.message(result)) end
  end
  return check_rules(result, path)
end

-- apply(rules, desired, problems) -> corrections, unresolved
-- corrections: { {rule=, change=, source=, problem=}, ... }; a problem
-- no rule corrects is returned in unresolved.
function M.apply(rules, desired, problems)
  local done, unresolved = {}, {}
  for _, p in ipairs(problems) do
    local fixed = false
    for _, rule in ipairs(rules) do
      local matched = rule.match(p, desired)
      if matched then
        local change = rule.fix(desired, matched, p)
        if change then
          done[#done + 1] = { rule = rule.name, change = change, source = p.source or "service" }
          fixed = true
          break
        end
      end
    end
    if not fixed then unresolved[#unresolved + 1] = p end
  end
  return done, unresolved
end

return M
