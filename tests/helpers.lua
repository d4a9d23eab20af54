-- Shared test helpers: running gcrun as a user would, temporary
-- directories, files. Specs require it as "tests.helpers".
local sys = require "gcrun.sys"

local M = {}

M.bin = os.getenv("GCRUN_BIN") or sys.realpath("/proc/self/exe")
M.srcdir = os.getenv("GCRUN_SRCDIR") or sys.realpath(".")

function M.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

function M.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function M.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

function M.tmpdir()
  return assert(sys.mkdtemp("gcrun-test"))
end

function M.rmtree(dir)
  if dir and dir:match("^/tmp/") or (dir and dir:match("gcrun%-test")) then
    os.execute("rm -rf " .. M.quote(dir))
  end
end

-- run(args, {env=, cwd=, stdin=, prefix=}) -> {status=, stdout=, stderr=}
-- Runs the gcrun binary in a shell, as a user would (after the words of
-- prefix, e.g. a setpriv command line).
function M.run(args, opts)
  opts = opts or {}
  local dir = M.tmpdir()
  local parts = {}
  if opts.cwd then parts[#parts + 1] = "cd " .. M.quote(opts.cwd) .. " &&" end
  parts[#parts + 1] = "env"
  local sets = {}
  for k, v in pairs(opts.env or {}) do
    if v == false then parts[#parts + 1] = "-u " .. k else sets[#sets + 1] = k .. "=" .. M.quote(v) end
  end
  table.move(sets, 1, #sets, #parts + 1, parts)
  for _, w in ipairs(opts.prefix or {}) do parts[#parts + 1] = M.quote(w) end
  parts[#parts + 1] = M.quote(opts.bin or M.bin)
  for _, a in ipairs(args) do parts[#parts + 1] = M.quote(a) end
  local cmd = table.concat(parts, " ")
  if opts.stdin then cmd = cmd .. " < " .. M.quote(M.write(dir .. "/stdin", opts.stdin)) end
  cmd = cmd .. " > " .. dir .. "/out 2> " .. dir .. "/err"
  local _, _, status = os.execute(cmd)
  local r = { status = status, stdout = M.read(dir .. "/out"), stderr = M.read(dir .. "/err"), cmd = cmd }
  M.rmtree(dir)
  return r
end

-- sandbox{org=, state=, ...} -> a sandbox org started in this process
-- (state in memory unless given), with helpers to drive it.
function M.sandbox(opts)
  local http = require "gcrun.http"
  local json = require "gcrun.json"
  local launch = require "gcrun.sandbox.launch"
  opts = opts or {}
  if opts.state == nil then opts.state = false end
  opts.org = opts.org or (M.srcdir .. "/examples/sandbox-org.json")
  opts.rate = opts.rate or 1000000      -- rate limits only where a test is about them
  local sb = launch.start(opts)
  local raw = http.client { base_url = sb.url, max_attempts = 1 }
  function sb.org() return json.decode(raw:request({ path = "/sandbox/org" }).body) end
  function sb.stats() return raw:request({ path = "/sandbox/stats" }):json() end
  function sb.env()
    return { GENESYSCLOUD_OAUTHCLIENT_ID = sb.client_id, GENESYSCLOUD_OAUTHCLIENT_SECRET = sb.client_secret,
      GENESYSCLOUD_REGION = false, GENESYS_BASE_URL = false, GENESYSCLOUD_ACCESS_TOKEN = false }
  end
  -- run gcrun against this sandbox: run{"queue-sync", ...} -> result
  function sb.run(args, extra)
    local full = { args[1] }
    local has_base = false
    for i = 2, #args do
      full[#full + 1] = args[i]
      if args[i] == "--base-url" then has_base = true end
    end
    if not has_base then table.insert(full, 2, sb.url); table.insert(full, 2, "--base-url") end
    local env = sb.env()
    for k, v in pairs(extra and extra.env or {}) do env[k] = v end
    return M.run(full, { env = env, cwd = extra and extra.cwd })
  end
  function sb.stop() sb.server:stop() end
  return sb
end

-- An org file generated for a test: generate.org(opts) written to dir.
function M.org_file(dir, opts)
  local json = require "gcrun.json"
  local path = dir .. "/org.json"
  M.write(path, json.encode(require("gcrun.sandbox.generate").org(opts)))
  return path
end

return M
