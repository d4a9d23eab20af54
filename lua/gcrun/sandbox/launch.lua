-- Starting a sandbox org in this process, for `--sandbox` and for tests:
-- gcrun.server on a free loopback port with the sandbox handler, its
-- state persisted (by default under ~/.local/state/gcrun) so a second run
-- sees what the first one changed.
local errors = require "gcrun.errors"
local org_mod = require "gcrun.sandbox.org"
local server = require "gcrun.server"
local sys = require "gcrun.sys"

local M = {}

local ANON_BODY = 64 * 1024    -- a token request is a few hundred bytes

function M.default_org()
  return sys.datadir() .. "/examples/sandbox-org.json"
end

-- The default state file, or nil when there is no home to keep it in: a
-- HOME that does not exist is not created (as root, anything could be),
-- and the org is kept in memory.
function M.default_state()
  local base = os.getenv("XDG_STATE_HOME")
  if not base or base == "" then
    local home = os.getenv("HOME")
    local st = home and home ~= "" and sys.stat(home)
    if not (st and st.type == "directory") then
      require("gcrun.log").verbose(string.format("HOME (%s) is not a directory: the sandbox org is kept in memory, "
        .. "not saved", home or "unset"))
      return nil
    end
    base = home .. "/.local/state"
  end
  return base .. "/gcrun/sandbox-org.json"
end

-- The example client of the org the sandbox will serve (state first);
-- loading it here also reports a broken file before a server starts.
local function first_client(path)
  local org, err = org_mod.load(path)
  if not org then errors.raise("input", "sandbox org %s", err) end
  local c = org:list("clients")[1]
  if not c then errors.raise("input", "sandbox org %s has no clients", path) end
  return c
end

-- start{org=, state=, port=, host=, rate=, latency=, faults=, seed=,
--       flow_editor=, flow_locks=, member_lag=, token_ttl=, log=,
--       tls_cert=, tls_key=}
-- -> {server=, url=, client_id=, client_secret=, state=, org=}
-- state=false keeps the org in memory only.
function M.start(opts)
  opts = opts or {}
  local args = {}
  for k, v in pairs(opts) do args[k] = v end
  args.org = opts.org or M.default_org()
  if opts.state == nil then args.state = M.default_state() end
  if args.state == false then args.state = nil end
  args.faults = opts.faults or {}
  args.faults.flow_editor = opts.flow_editor
  args.faults.flow_locks = opts.flow_locks
  if args.state then
    local dir = args.state:match("^(.*)/[^/]+$")
    if dir then sys.mkdir_p(dir) end   -- the lock file lives beside the state
  end
  local st = args.state and sys.stat(args.state)
  local client = first_client(st and args.state or args.org)
  local srv = server.listen { host = opts.host or "127.0.0.1", port = opts.port or 0, handler = "gcrun.sandbox",
    args = args, tls_cert = opts.tls_cert, tls_key = opts.tls_key, lock = args.state,
    -- only a request with a token this sandbox issued may send a large body
    max_anon_body = ANON_BODY, max_buffered = opts.max_buffered }
  return { server = srv, url = srv:url(), client_id = client.id, client_secret = client.secret,
    state = args.state or "in memory", org = args.org }
end

return M
