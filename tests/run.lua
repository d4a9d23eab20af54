-- The test runner: busted, inside the gcrun host so the native modules
-- load, writing TAP for Automake's driver. Usage: gcrun tests/run.lua SPEC...
local specs = { ... }
_G.arg = { "--output=TAP", "--sort-tests" }
for _, s in ipairs(specs) do _G.arg[#_G.arg + 1] = s end
require("busted.runner")({ standalone = false })
