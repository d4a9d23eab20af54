-- Where scripts and modules come from: a layered search, first hit wins.
--   --path DIR flags, then $GCRUN_PATH (";"-separated; an empty entry, as
--   in "dir;;", stands for the defaults), else the defaults: the user's
--   ~/.config/gcrun, then the data directory, which always comes last so
--   the library itself is always found.
-- In each root R, scripts are R/scripts/NAME.lua and modules are found at
-- R/?.lua and R/lua/?.lua (so ~/.config/gcrun/gcrun/corrections.lua
-- overrides the bundled gcrun.corrections).
local strict = require "gcrun.strict"
local sys = require "gcrun.sys"

local M = {}

local function split(s, sep)
  local parts, start = {}, 1
  while true do
    local i = s:find(sep, start, true)
    if not i then parts[#parts + 1] = s:sub(start); return parts end
    parts[#parts + 1] = s:sub(start, i - 1)
    start = i + 1
  end
end

function M.roots(path_flags, datadir)
  local defaults = {}
  local config = os.getenv("XDG_CONFIG_HOME")
  if not config or config == "" then
    local home = os.getenv("HOME")
    config = home and (home .. "/.config")
  end
  if config then defaults[#defaults + 1] = config .. "/gcrun" end
  defaults[#defaults + 1] = datadir

  local roots, seen = {}, {}
  local function add(dir)
    dir = dir:gsub("/+$", "")
    if dir ~= "" and not seen[dir] then
      seen[dir] = true
      roots[#roots + 1] = dir
    end
  end
  for _, d in ipairs(path_flags or {}) do add(d) end
  local env = os.getenv("GCRUN_PATH")
  if env and env ~= "" then
    local inserted = false
    for _, part in ipairs(split(env, ";")) do
      if part == "" then
        if not inserted then
          for _, d in ipairs(defaults) do add(d) end
          inserted = true
        end
      else
        add(part)
      end
    end
  else
    for _, d in ipairs(defaults) do add(d) end
  end
  add(datadir)
  return roots
end

-- Put the roots in front of package.path, keeping the system's entries
-- (busted, penlight) behind them and dropping the data directory's own
-- entries, which the roots already cover in the right place.
function M.set_package_path(roots, datadir)
  local entries = {}
  for _, r in ipairs(roots) do
    entries[#entries + 1] = r .. "/?.lua"
    entries[#entries + 1] = r .. "/?/init.lua"
    entries[#entries + 1] = r .. "/lua/?.lua"
    entries[#entries + 1] = r .. "/lua/?/init.lua"
  end
  for entry in package.path:gmatch("[^;]+") do
    if entry:sub(1, #datadir + 1) ~= datadir .. "/" then
      entries[#entries + 1] = entry
    end
  end
  package.path = table.concat(entries, ";")
end

function M.is_name(s)
  return s:match("^[%w][%w_%-]*$") ~= nil
end

-- find(name, roots) -> path | nil, list of places searched
function M.find(name, roots)
  local tried = {}
  for _, r in ipairs(roots) do
    local path = r .. "/scripts/" .. name .. ".lua"
    local st = sys.stat(path)
    if st and st.type == "file" then return path end
    tried[#tried + 1] = r .. "/scripts"
  end
  return nil, tried
end

-- Every script name visible through the roots, first hit wins.
function M.all(roots)
  local found, names = {}, {}
  for _, r in ipairs(roots) do
    for _, f in ipairs(sys.dir(r .. "/scripts") or {}) do
      local name = f:match("^(.+)%.lua$")
      if name and M.is_name(name) and not found[name] then
        found[name] = r .. "/scripts/" .. f
        names[#names + 1] = name
      end
    end
  end
  table.sort(names)
  return names, found
end

-- Compile a script file or chunk in a strict environment of its own.
-- Only source text is accepted, never precompiled bytecode.
function M.compile(source, chunkname, is_file)
  local env = strict.env(_G)
  local fn, err
  if is_file then
    fn, err = loadfile(source, "t", env)
  else
    fn, err = load(source, chunkname, "t", env)
  end
  return fn, err
end

-- Load a script for its declaration only (for --list).
function M.declaration(path)
  local fn, err = M.compile(path, nil, true)
  if not fn then return nil, err end
  local ok, decl = pcall(fn)
  if not ok then return nil, tostring(decl) end
  if type(decl) ~= "table" then return nil, "does not return a script table" end
  return decl
end

-- A script table must say what it is and have something to run.
function M.check_declaration(decl, where)
  if type(decl.main) ~= "function" then
    return nil, where .. ": the script table has no main function"
  end
  if decl.options ~= nil and type(decl.options) ~= "table" then
    return nil, where .. ": options must be a list"
  end
  return true
end

return M
