-- The connection a script runs against, made once and on first use from
-- the common options: a real org (region or base URL, credentials from
-- the environment or .env) or, with --sandbox, a sandbox org started in
-- this process. Scripts reach it through `require "gcrun"`.
local log = require "gcrun.log"

local M = {}

local state = { opts = {}, version = "dev" }

function M.configure(values, version)
  state.opts = values or {}
  if version then state.version = version end
end

function M.options() return state.opts end

function M.version() return state.version end

function M.dialect() return state.opts.api or "platform" end

-- target() -> description of the org for output (never a secret).
function M.target() return state.target end

-- client([{concurrency=}]) -> http client, config. The first call connects.
function M.client(tuning)
  if state.client then return state.client, state.config end
  -- required here: a script that never connects never loads the network modules
  local defaults = require "gcrun.defaults"
  local http = require "gcrun.http"
  local oauth = require "gcrun.oauth"
  local o = state.opts
  local api = o.api or "platform"
  -- the dialect says how its token is asked for; C knows no dialect
  local token = require("gcrun.api." .. api).token
  local resolve = {
    client_id = o["client-id"], region = o.region, base_url = o["base-url"], token = token,
    profile = o.profile,
  }
  local target
  if not o.sandbox and (o.rate or o.latency) then
    require("gcrun.errors").raise("usage", "--rate and --latency set the --sandbox org's budget and latency; " ..
      "they need --sandbox")
  end
  if o.sandbox then
    local launch = require "gcrun.sandbox.launch"
    local sb = launch.start { state = o["sandbox-state"], rate = o.rate, latency = o.latency }
    state.sandbox = sb
    resolve = {
      base_url = sb.url .. (api == "tutorial" and "/tutorial" or ""), token = token,
      client_id = sb.client_id, client_secret = sb.client_secret, env_file = false,
    }
    target = "sandbox org at " .. sb.url .. " (state " .. sb.state
      .. (o.rate and string.format(", %d requests a minute", o.rate) or "")
      .. (o.latency and string.format(", %d ms latency", o.latency) or "") .. ")"
  end
  local config, creds = oauth.resolve(resolve)
  for _, w in ipairs(config.warnings) do log.warn(w) end
  state.config = config
  state.client = http.client {
    base_url = config.base_url, auth = creds, cacert = o.cacert,
    concurrency = (tuning and tuning.concurrency) or defaults.connections,
    -- as many attempts as the official Terraform provider makes (RetryMax
    -- 20); the 120 s cap on time spent waiting still bounds a dead service
    max_attempts = defaults.max_attempts,
    headers = { Accept = "application/json", ["User-Agent"] = "gcrun/" .. state.version },
  }
  state.target = target or string.format("%s (%s%s)", config.base_url,
    config.profile and ("profile " .. config.profile .. ", ") or "",
    config.region and ("region " .. config.region) or "base URL from " .. (config.sources.base_url or "default"))
  log.info("target: " .. state.target)
  return state.client, config
end

-- close(): stop an in-process sandbox (it saves its state).
function M.close()
  if state.client then state.client:close() end
  state.client = nil
  if state.sandbox then
    state.sandbox.server:stop()
    state.sandbox = nil
  end
end

return M
