-- Where scripts and modules come from: a layered search, first hit wins.
--   --path DIR flags, then $GCRUN_PATH (";"-separated; an empty entry, as
--   in "dir;;", stands for the defaults), else the defaults: the user's
--   ~/.config/gcrun, then the data directory, which always comes last so
--   the library itself is always found.
-- In each root R, scripts are R/scripts/NAME.lua and modules are found at
-- R/?.lua and R/lua/?.lua (so ~/.config/gcrun/gcrun/corrections.lua
-- overrides the bundled gcrun.corrections); only policy modules can be
-- replaced that way (M.POLICY), never the engine, transport or sandbox.
local strict = require "gcrun.strict"
local sys = require "gcrun.sys"
local text = require "gcrun.text"

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

-- Policy modules: the only ones a root other than the data directory may
-- replace (the rules gcrun applies, and how reports are laid out). The
-- transport, the engine, the dialects and the sandbox are gcrun itself: a
-- copy of gcrun.http in ~/.config/gcrun/gcrun/ is ignored, with a warning.
M.POLICY = {
  "gcrun.corrections", "gcrun.flows", "gcrun.mapping", "gcrun.report_md", "gcrun.report_html",
}
local policy = {}
for _, name in ipairs(M.POLICY) do policy[name] = true end

function M.replaceable(name)
  return policy[name] == true or not (name == "gcrun" or name:sub(1, 6) == "gcrun.")
end

local function patterns(root)
  return { root .. "/?.lua", root .. "/?/init.lua", root .. "/lua/?.lua", root .. "/lua/?/init.lua" }
end

local warned = {}

-- package.path: the data directory, then the system's entries (busted,
-- penlight), dropping the data directory's own entries, which come first
-- anyway. The other roots are searched by a searcher of their own, ahead
-- of package.path, which lets through only policy modules and modules
-- outside the gcrun namespace (a rule file's helpers).
function M.set_package_path(roots, datadir)
  local own, user = patterns(datadir), {}
  for _, r in ipairs(roots) do
    if r ~= datadir then
      for _, p in ipairs(patterns(r)) do user[#user + 1] = p end
    end
  end
  for entry in package.path:gmatch("[^;]+") do
    if entry:sub(1, #datadir + 1) ~= datadir .. "/" then
      own[#own + 1] = entry
    end
  end
  package.path = table.concat(own, ";")
  local user_path = table.concat(user, ";")
  if M.searcher then
    for i, f in ipairs(package.searchers) do
      if f == M.searcher then table.remove(package.searchers, i); break end
    end
  end
  M.searcher = function(name)
    if user_path == "" then return nil end
    local found = package.searchpath(name, user_path)
    if not found then return nil end
    if not M.replaceable(name) then
      if not warned[found] then
        warned[found] = true
        require("gcrun.log").warn(string.format("%s is ignored: %s is part of gcrun (engine, transport or " ..
          "sandbox) and cannot be replaced; only policy modules can (%s) and scripts", found, name,
          table.concat(M.POLICY, ", ")))
      end
      return "\n\t" .. found .. " is ignored (" .. name .. " cannot be replaced)"
    end
    -- text only, and os.exit an error naming the file, as for a --rules file
    local fn, err = loadfile(found, "t", strict.without_exit(_G, "module " .. found, "a policy module"))
    if not fn then
      error(string.format("error loading module '%s' from file '%s':\n\t%s", name, found, err), 0)
    end
    return fn, found
  end
  table.insert(package.searchers, 2, M.searcher)
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

-- A script's print: what it prints often comes from a server (names,
-- messages), so control characters are escaped (text.printable) but for
-- line breaks and tabs; io.write stays raw for those who need bytes.
local function print_escaped(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do parts[i] = text.printable_text(tostring((select(i, ...)))) end
  io.stdout:write(table.concat(parts, "\t"), "\n")
end
local SCRIPT_BASE = setmetatable({ print = print_escaped }, { __index = _G })

-- Compile a script file or chunk in a strict environment of its own.
-- Only source text is accepted, never precompiled bytecode.
function M.compile(source, chunkname, is_file)
  local env = strict.env(SCRIPT_BASE)
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
