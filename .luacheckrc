-- luacheck configuration: Lua 5.4, no globals anywhere; specs may use
-- busted's.
std = "lua54"
max_line_length = 120
codes = true
files["tests"] = { std = "+busted", max_line_length = 140 }
files["bench"] = { std = "+busted" }
