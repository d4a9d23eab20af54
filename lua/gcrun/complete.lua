-- What the shell completion asks gcrun (contrib/gcrun.bash): the script
-- names, and the options of gcrun or of one script, from the same
-- declarations the parser and --help use, so completion cannot drift
-- from them. Not for people, so not in --help.
--   gcrun --complete scripts         one name a line
--   gcrun --complete options [NAME]  "--name<TAB>METAVAR<TAB>choice choice" a line
local scripts = require "gcrun.scripts"

local M = {}

local function print_options(compiled)
  for _, o in ipairs(compiled.list) do
    io.stdout:write("--", o.name, "\t", o.metavar or "", "\t", table.concat(o.choices or {}, " "), "\n")
    if o.short then io.stdout:write("-", o.short, "\t", o.metavar or "", "\t", "\n") end
  end
end

function M.run(args, info, cli)
  local roots = scripts.roots(nil, info.datadir)
  scripts.set_package_path(roots, info.datadir)
  local what, name = args[2], args[3]
  if what == "scripts" then
    for _, n in ipairs((scripts.all(roots))) do io.stdout:write(n, "\n") end
    return 0
  end
  if what ~= "options" then return 2 end
  if not name then
    print_options(cli.GLOBAL)
    return 0
  end
  -- only bundled or installed scripts are loaded for their options: a
  -- script file named on the command line may do its work when loaded
  local path = scripts.is_name(name) and not name:find("%.lua$") and scripts.find(name, roots)
  if not path then
    print_options(cli.COMMON)
    return 0
  end
  -- a script that cannot be loaded completes nothing, silently: the shell
  -- is no place for its error
  local decl = scripts.declaration(path)
  if type(decl) ~= "table" or decl.main == nil then return 1 end
  print_options((cli.script_options(decl)))
  return 0
end

return M
