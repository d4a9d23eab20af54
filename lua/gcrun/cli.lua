-- The command line: global options, finding the script, parsing its
-- declared options, running it protected, turning errors into messages
-- and exit statuses (0 ok, 1 failed, 2 usage or input, 3 auth, 4 unreachable,
-- 128 + N stopped by signal N: SIGINT, SIGTERM, SIGHUP or SIGQUIT).
local errors = require "gcrun.errors"
local log = require "gcrun.log"
local options = require "gcrun.options"
local scripts = require "gcrun.scripts"
local sys = require "gcrun.sys"
local text = require "gcrun.text"

local M = {}

-- Output options: accepted by every script.
local OUTPUT = options.compile {
  { "verbose", "more detail; twice traces every HTTP request", short = "v", type = "count" },
  { "quiet", "print errors, warnings and the summary only", short = "q" },
  { "log-format=FMT", "text for people, json for machines", choices = { "text", "json" } },
  { "debug", "show Lua locations and tracebacks in error messages (for bug reports)" },
}

-- A file option checked when parsed, before any request needs it.
local function readable_file(path)
  local st = sys.stat(path)
  if not st then return nil, "names a file that does not exist: " .. path end
  if st.type ~= "file" then return nil, "names " .. path .. ", which is not a regular file" end
  local f = io.open(path, "rb")
  if not f then return nil, "names a file gcrun cannot read: " .. path end
  f:close()
  return path
end

-- --cacert: a readable file with at least one PEM certificate (what
-- libcurl reads), else the run would fail at its first request.
local function ca_file(path)
  local ok, err = readable_file(path)
  if not ok then return nil, err end
  local pem = sys.read(path, 64 * 1024 * 1024) or ""
  local from = pem:find("-----BEGIN [%u ]*CERTIFICATE-----")
  if not (from and pem:find("-----END [%u ]*CERTIFICATE-----", from)) then
    return nil, "names " .. path .. ", which holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
  end
  return path
end

-- The connection to an org: for scripts that talk to one.
local CONNECTION = options.compile {
  { "sandbox", "run against a local sandbox org started in-process",
    conflicts = { "region", "base-url", "client-id", "profile" } },
  { "sandbox-state=FILE", "state file of the --sandbox org [default: ~/.local/state/gcrun/sandbox-org.json]" },
  { "rate=N/min", "with --sandbox: requests a minute it allows per client [default: 300/min]",
    check = require("gcrun.sandbox.settings").rate },
  { "latency=MS", "with --sandbox: milliseconds it adds to every answer [default: 0]",
    check = require("gcrun.sandbox.settings").latency },
  { "region=REGION", "Genesys Cloud region or domain (us-east-1, eu-west-1, mypurecloud.ie, ...)" },
  { "base-url=URL", "API base URL, instead of --region" },
  { "client-id=ID", "OAuth client id (the secret is read from the environment or .env only)" },
  { "profile=NAME", "the org of profile NAME in ~/.config/gcrun/profiles (region, client, where the secret is)" },
  { "api=DIALECT", "wire format", choices = { "platform", "tutorial" } },
  { "cacert=FILE", "trust the CA certificate(s) in FILE", check = ca_file },
}

local DRY_RUN = options.compile {
  { "dry-run", "make no changes (scripts see gc.dry_run)" },
}

-- Options every script accepts unless it says otherwise: a script's
-- `common = { "connection", "dry-run" }` lists the groups beyond output
-- that apply to it (absent: all of them).
M.COMMON = options.merge(OUTPUT, CONNECTION, DRY_RUN)
local GROUPS = { connection = CONNECTION, ["dry-run"] = DRY_RUN }

local OWN = options.compile {
  { "help", "show this help and exit", short = "h" },
  { "version", "print the version and exit", short = "V" },
  { "list", "list the bundled scripts with their descriptions", short = "l" },
  { "path=DIR", "look for scripts and modules in DIR first (repeatable)", multiple = true },
  { "eval=CHUNK", "run a Lua chunk instead of a script", short = "e", stop = true },
}

-- Before the script name: gcrun's own options and the common ones.
M.GLOBAL = options.merge(OWN, M.COMMON)
local GLOBAL = M.GLOBAL

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
    options.help { { "options", OWN }, { "common options (before or after the script name)", M.COMMON } }, "\n\n",
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
    io.stdout:write(string.format("%-" .. width .. "s  %s\n", n, text.printable(desc)))
  end
end

-- Split argv into the common options (with their values) and the rest,
-- each in order.
local function split_common(argv)
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
  return picked, rest
end

-- The common options' values, and argv without them, for scripts that do
-- not declare their options (plain files, -e chunks).
local function extract_common(argv)
  local picked, rest = split_common(argv)
  local values = options.parse(M.COMMON, picked, {})
  return values, rest
end

local function configure_output(common)
  local level = log.NORMAL
  if common.quiet then level = log.QUIET end
  if (common.verbose or 0) > 0 then level = log.NORMAL + common.verbose end
  log.configure { level = math.min(level, log.TRACE), format = common["log-format"] or "text",
    output = common.output, debug = common.debug }
  errors.debug = common.debug or false
end

-- The common options that apply to a script (see M.COMMON), less those
-- it declares itself, so each option is listed once.
local function common_for(decl, own)
  local sets = { OUTPUT }
  if decl.common == nil then
    sets = { M.COMMON }
  else
    for _, g in ipairs(decl.common) do
      if not GROUPS[g] then errors.raise("usage", "the script's common = {...} names an unknown group '%s'", g) end
      sets[#sets + 1] = GROUPS[g]
    end
  end
  local c = options.compile {}
  for _, o in ipairs(options.merge(table.unpack(sets)).list) do
    if not own.by_name[o.name] then
      c.list[#c.list + 1] = o
      c.by_name[o.name] = o
      if o.short then c.by_short[o.short] = o end
    end
  end
  return c
end

local function script_usage(name, decl, own, common)
  local lines = { string.format("usage: gcrun %s [options] %s", name, decl.usage or ""), "" }
  if decl.description then lines[#lines + 1] = decl.description .. "\n" end
  lines[#lines + 1] = options.help { { "options", own }, { "common options", common } }
  if decl.help then lines[#lines + 1] = "\n" .. decl.help end
  return table.concat(lines, "\n") .. "\n"
end

local SCRIPT_HELP = options.compile { { "help", "show this help and exit", short = "h" } }

-- The options a script takes: its own, then the common ones that apply
-- and --help.
function M.script_options(decl)
  local own = options.compile(decl.options)
  local common = options.merge(common_for(decl, own), SCRIPT_HELP)
  return options.merge(own, common), own, common
end

-- Run a loaded chunk with `rest` (argv without the common options) as its
-- arguments: a chunk returning a script table gets its options parsed from
-- the whole argv (common options given before the script name first) and
-- its main called; any other chunk has done its work.
local function run_chunk(fn, label, argv, rest, common, version)
  local session = require "gcrun.session"
  session.configure(common, version)
  _G.arg = rest
  local decl = fn(table.unpack(rest))
  if type(decl) ~= "table" or decl.main == nil then return 0 end
  local ok, err = scripts.check_declaration(decl, label)
  if not ok then errors.raise("usage", "%s", err) end
  local all, own, common_opts = M.script_options(decl)
  local values, positional = options.parse(all, argv, { where = label })
  if values.help then
    io.stdout:write(text.printable_lines(script_usage(label, decl, own, common_opts)))
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
  if args[1] == "--complete" then return require("gcrun.complete").run(args, info, M) end
  local g, positional, rest = options.parse(GLOBAL, args, { stop_at_positional = true })
  configure_output(g)
  local roots = scripts.roots(g.path, info.datadir)
  scripts.set_package_path(roots, info.datadir)

  if g.version then print_version(info); return 0 end
  if g.help then print_help(info); return 0 end
  if g.list then print_list(roots); return 0 end

  -- the common options given before the script name, as typed
  local before = {}
  for i = 1, #args - #rest - (g.eval and 0 or 1) do before[i] = args[i] end
  before = split_common(before)

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

  local argv = table.move(rest, 1, #rest, #before + 1, before)
  local common
  common, rest = extract_common(argv)
  configure_output(common)
  require("gcrun.signal").install()
  return run_chunk(fn, label, argv, rest, common, info.version)
end

-- main(args, info) -> exit status. Every error ends here: a message on
-- stderr (with a traceback under --debug) and the status it calls for.
function M.main(args, info)
  local ok, status = xpcall(run, function(e)
    if type(e) ~= "table" then e = { message = tostring(e) } end
    if e.code ~= "usage" and e.traceback == nil then
      -- the message is one line of the traceback: its own line breaks escaped
      e.traceback = debug.traceback(text.printable(errors.message(e)), 2)
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
  if e.traceback and log.debug() then log.block(e.traceback) end
  return errors.exit_status(e)
end

return M
