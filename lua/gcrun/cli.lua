-- The command line: global options, finding the script, parsing its
-- declared options, running it protected, turning errors into messages
-- and exit statuses (0 ok, 1 failed, 2 usage or input, 3 auth, 130 signal).
local errors = require "gcrun.errors"
local log = require "gcrun.log"
local options = require "gcrun.options"
local scripts = require "gcrun.scripts"
local text = require "gcrun.text"

local M = {}

local OUTPUT = options.compile {
  { "verbose", "more detail; twice traces every HTTP request", short = "v", type = "count" },
  { "quiet", "print errors only", short = "q" },
  { "log-format=FMT", "text for people, json for machines", choices = { "text", "json" } },
}

local GLOBAL = options.merge(options.compile {
  { "help", "show this help and exit", short = "h" },
  { "version", "print the version and exit", short = "V" },
  { "list", "list the bundled scripts with their descriptions", short = "l" },
  { "path=DIR", "look for scripts and modules in DIR first (repeatable)", multiple = true },
  { "eval=CHUNK", "run a Lua chunk instead of a script", short = "e", stop = true },
}, OUTPUT)

-- Options every script accepts: output and the connection to an org.
M.COMMON = options.merge(OUTPUT, options.compile {
  { "sandbox", "run against a local sandbox org started in-process" },
  { "sandbox-state=FILE", "state file of the --sandbox org [default: ~/.local/state/gcrun/sandbox-org.json]" },
  { "region=REGION", "Genesys Cloud region or domain (us-east-1, eu-west-1, mypurecloud.ie, ...)" },
  { "base-url=URL", "API base URL, instead of --region" },
  { "client-id=ID", "OAuth client id (the secret is read from the environment or .env only)" },
  { "profile=NAME", "the org of profile NAME in ~/.config/gcrun/profiles (region, client, where the secret is)" },
  { "api=DIALECT", "wire format", choices = { "platform", "tutorial" } },
  { "cacert=FILE", "trust the CA certificate(s) in FILE" },
  { "dry-run", "make no changes (scripts see gc.dry_run)" },
})

local USAGE = [[
usage: gcrun [options] NAME [script options] [args]   run a bundled script
       gcrun [options] FILE.lua [args]                 run a script file
       gcrun [options] -e CHUNK [args]                 run a Lua chunk
]]

local function region_names()
  local names = {}
  for _, r in ipairs(require("gcrun.oauth").regions()) do names[#names + 1] = r.name end
  return names
end

local function print_help(info)
  io.stdout:write(USAGE, "\n",
    "gcrun ", info.version, ": Lua-scriptable automation for Genesys Cloud CX.\n\n",
    options.help { { "options", GLOBAL }, { "common options (any script)", M.COMMON } }, "\n\n",
    "Regions: ", table.concat(region_names(), ", "), "\n\n",
    "Scripts: gcrun --list. Help on one: gcrun NAME --help. Manual: man gcrun.\n")
end

-- Versions from the headers gcrun was built with: loading the network
-- libraries to ask them would cost more than the rest of the start-up.
local function print_version(info)
  local v = require("gcrun.sys").versions()
  io.stdout:write(string.format("gcrun %s (%s, libcurl %s, libmicrohttpd %s)\n", info.version, _VERSION,
    v.libcurl, v.libmicrohttpd))
end

local function print_list(roots)
  local names, paths = scripts.all(roots)
  local width = 0
  for _, n in ipairs(names) do width = math.max(width, #n) end
  for _, n in ipairs(names) do
    local decl, err = scripts.declaration(paths[n])
    local desc = decl and (decl.description or "") or ("(cannot load: " .. tostring(err) .. ")")
    desc = desc:match("^[^\n]*")
    io.stdout:write(string.format("%-" .. width .. "s  %s\n", n, desc))
  end
end

-- Pick the common options out of argv, leaving the rest in order, for
-- scripts that do not declare their options (plain files, -e chunks).
local function extract_common(argv)
  local rest, picked = {}, {}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      for j = i, #argv do rest[#rest + 1] = argv[j] end
      break
    end
    local name = a:match("^%-%-([^=]+)") or (a:match("^%-(%a)$") and M.COMMON.by_short[a:sub(2)]
      and M.COMMON.by_short[a:sub(2)].name)
    local o = name and M.COMMON.by_name[name]
    if o then
      picked[#picked + 1] = a
      if o.metavar and not a:find("=", 1, true) then
        i = i + 1
        picked[#picked + 1] = argv[i]
      end
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  local values = options.parse(M.COMMON, picked, {})
  return values, rest
end

local function configure_output(common)
  local level = log.NORMAL
  if common.quiet then level = log.QUIET end
  if (common.verbose or 0) > 0 then level = log.NORMAL + common.verbose end
  log.configure { level = math.min(level, log.TRACE), format = common["log-format"] or "text" }
end

local function script_usage(name, decl, compiled)
  local lines = { string.format("usage: gcrun %s [options] %s", name, decl.usage or ""), "" }
  if decl.description then lines[#lines + 1] = decl.description .. "\n" end
  lines[#lines + 1] = options.help { { "options", compiled }, { "common options", M.COMMON } }
  if decl.help then lines[#lines + 1] = "\n" .. decl.help end
  return table.concat(lines, "\n") .. "\n"
end

-- Run a loaded chunk with `rest` (argv without the common options) as its
-- arguments: a chunk returning a script table gets its options parsed from
-- the whole argv and its main called; any other chunk has done its work.
-- Output options given before the script name count unless repeated after it.
local function with_global_output(values, g)
  for _, k in ipairs { "verbose", "quiet", "log-format" } do
    if g[k] and g[k] ~= 0 and not (values[k] and values[k] ~= 0) then values[k] = g[k] end
  end
  return values
end

local function run_chunk(fn, label, argv, rest, common, version, g)
  local session = require "gcrun.session"
  session.configure(common, version)
  _G.arg = rest
  local decl = fn(table.unpack(rest))
  if type(decl) ~= "table" or decl.main == nil then return 0 end
  local ok, err = scripts.check_declaration(decl, label)
  if not ok then errors.raise("usage", "%s", err) end
  local own = options.compile(decl.options)
  local all = options.merge(own, M.COMMON, options.compile { { "help", "show this help", short = "h" } })
  local values, positional = options.parse(all, argv, { where = label })
  with_global_output(values, g)
  if values.help then
    io.stdout:write(script_usage(label, decl, own))
    return 0
  end
  configure_output(values)
  session.configure(values, version)
  local status = decl.main(values, positional)
  return math.tointeger(status) or 0
end

local function run(args, info)
  -- Collect when the heap has grown by half (not doubled) and work harder
  -- at each step: gcrun's data is many small tables made and dropped per
  -- file and per request, and a bulk run's peak memory matters more than
  -- the few percent of CPU this costs (bench/: workload 4).
  collectgarbage("incremental", 150, 400)
  local g, positional, rest = options.parse(GLOBAL, args, { stop_at_positional = true })
  local roots = scripts.roots(g.path, info.datadir)
  scripts.set_package_path(roots, info.datadir)

  if g.version then print_version(info); return 0 end
  if g.help then print_help(info); return 0 end
  if g.list then print_list(roots); return 0 end

  local fn, label, err
  if g.eval then
    -- with -e every argument after the options belongs to the chunk
    table.move(rest, 1, #rest, #positional + 1, positional)
    rest = positional
    label = "-e"
    fn, err = scripts.compile(g.eval, "=(command line)")
    if not fn then errors.raise("usage", "%s", err) end
  elseif positional[1] then
    local target = positional[1]
    if scripts.is_name(target) and not target:find("%.lua$") then
      local path, tried = scripts.find(target, roots)
      if not path then
        local near = text.closest(target, (scripts.all(roots)))
        errors.raise("usage", "no script named '%s'%s (looked in %s); gcrun --list shows them",
          target, near and (" (did you mean '" .. near .. "'?)") or "", table.concat(tried, ", "))
      end
      label = target
      fn, err = scripts.compile(path, nil, true)
    else
      label = target
      fn, err = scripts.compile(target, nil, true)
      if not fn and err:find("No such file", 1, true) then
        errors.raise("usage", "cannot open script file '%s': no such file", target)
      end
    end
    if not fn then errors.raise("usage", "%s", err) end
  else
    io.stderr:write(USAGE, "Try 'gcrun --help'.\n")
    return 2
  end

  local common
  local argv = rest
  common, rest = extract_common(argv)
  configure_output(with_global_output(common, g))
  require("gcrun.signal").install()
  return run_chunk(fn, label, argv, rest, common, info.version, g)
end

-- main(args, info) -> exit status. Every error ends here: a message on
-- stderr (with a traceback under --verbose) and the status it calls for.
function M.main(args, info)
  local ok, status = xpcall(run, function(e)
    if type(e) ~= "table" then e = { message = tostring(e) } end
    if e.code ~= "usage" and e.traceback == nil then
      e.traceback = debug.traceback(errors.message(e), 2)
    end
    return e
  end, args, info)
  local session = package.loaded["gcrun.session"]
  if session then
    local closed, cerr = pcall(session.close)
    if not closed then log.error("closing the session: " .. errors.message(cerr)) end
  end
  io.stdout:flush()
  if ok then return status end
  local e = status
  log.error(errors.message(e))
  if e.traceback and log.enabled(log.VERBOSE) then io.stderr:write(e.traceback, "\n") end
  return errors.exit_status(e)
end

return M
