-- gcrun sandbox: serve a local Genesys Cloud org in the foreground.
local errors = require "gcrun.errors"
local launch = require "gcrun.sandbox.launch"
local log = require "gcrun.log"
local org_mod = require "gcrun.sandbox.org"
local settings = require "gcrun.sandbox.settings"
local sys = require "gcrun.sys"

return {
  description = "Serve a local sandbox Genesys Cloud org (platform API at /, tutorial API at /tutorial)",
  usage = "",
  common = {},   -- it serves an org: no connection to one, nothing to dry-run
  options = {
    { "port=N", "port to listen on (0: any free port)", type = "integer", default = 8089 },
    { "host=ADDR", "address to listen on", default = "127.0.0.1" },
    { "org=FILE", "the org to serve when there is no saved state [default: the example org]" },
    { "state=FILE", "where the org's state is saved after every write " ..
      "[default: ~/.local/state/gcrun/sandbox-org.json]" },
    { "memory", "keep the state in memory only" },
    { "reset", "replace the saved state with the org file and exit" },
    { "rate=N/min", "requests a minute allowed per client", default = "300/min", check = settings.rate },
    { "latency=MS", "added to every answer, without holding up the others", check = settings.latency, default = 0 },
    { "faults=SPEC", "inject faults, e.g. 503=0.1,drop=0.05,429=0.05", check = settings.faults },
    { "seed=N", "seed for the injected faults", type = "integer" },
    { "flow-editor=P", "chance another writer edits a flow between a client's read and save",
      check = settings.probability },
    { "flow-locks=P", "chance a checkout finds the flow locked by another user for a while",
      check = settings.probability },
    { "member-lag=MS", "a member added this recently still answers 404 (eventual consistency)", type = "integer" },
    { "queue-lag=MS", "a queue created this recently answers 404 and is missing from lists (eventual consistency)",
      type = "integer" },
    { "id-seed=N", "derive every id of the org file from N: the same names, other ids (a second org)",
      type = "integer" },
    { "token-ttl=S", "lifetime of issued tokens in seconds", type = "integer", default = 86400 },
    { "tls-cert=FILE", "serve HTTPS with this certificate (PEM; with --tls-key)" },
    { "tls-key=FILE", "the certificate's private key (PEM)" },
  },
  main = function(opts)
    local state = opts.state or launch.default_state()
    local org = opts.org or launch.default_org()
    if opts.reset then
      if not state then errors.raise("usage", "--reset: no state file (HOME is not a directory); give --state FILE") end
      local loaded, err = org_mod.load(org, opts["id-seed"])
      if not loaded then errors.raise("input", "%s", err) end
      local dir = state:match("^(.*)/[^/]+$")
      if dir then sys.mkdir_p(dir) end
      -- never under a sandbox serving that state: its next save would undo the reset
      local lock = require("gcrun.server").lock(state)
      local ok, werr = loaded:save(state)
      lock:release()
      if not ok then errors.raise("input", "cannot write %s", werr) end
      log.info(string.format("sandbox state reset: %s now holds %s", state, org))
      return 0
    end
    if (opts["tls-cert"] == nil) ~= (opts["tls-key"] == nil) then
      errors.raise("usage", "--tls-cert and --tls-key go together")
    end
    local sb = launch.start {
      port = opts.port, host = opts.host, org = org, state = not opts.memory and state or false,
      rate = opts.rate, latency = opts.latency, faults = opts.faults, seed = opts.seed,
      flow_editor = opts["flow-editor"], flow_locks = opts["flow-locks"], member_lag = opts["member-lag"],
      queue_lag = opts["queue-lag"], id_seed = opts["id-seed"],
      token_ttl = opts["token-ttl"], log = log.level() >= log.NORMAL,
      tls_cert = opts["tls-cert"], tls_key = opts["tls-key"],
    }
    io.stdout:write(string.format([[
gcrun sandbox: serving a sandbox org at %s
  platform API   %s/api/v2/...   (token: POST %s/oauth/token)
  tutorial API   %s/tutorial/api/v2/...
  client id      %s
  client secret  %s   (the example client of this sandbox org)
  state          %s
  rate limit     %d requests a minute per client
Ctrl-C stops the sandbox and saves its state.
]], sb.url, sb.url, sb.url, sb.url, sb.client_id, sb.client_secret, sb.state, opts.rate))
    io.stdout:flush()
    sb.server:wait_for_signal()
    local saved, err = sb.server:stop()
    if not saved then
      log.error("gcrun sandbox: stopped, but the state was NOT saved: " .. tostring(err))
      return 1
    end
    log.info(opts.memory and "gcrun sandbox: stopped (the state was in memory only)"
      or ("gcrun sandbox: stopped; state saved to " .. sb.state))
    return 0
  end,
}
