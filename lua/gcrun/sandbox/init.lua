-- The sandbox org: a local Genesys Cloud served by gcrun.server. This
-- handler authenticates (client credentials, bearer tokens), applies the
-- per-client rate limit, injects the faults it is asked to, routes to the
-- platform dialect at / and the tutorial dialect under /tutorial, and saves
-- the org after every write (group commit: the answer waits for the save).
local json = require "gcrun.json"
local org_mod = require "gcrun.sandbox.org"
local respond = require "gcrun.sandbox.respond"
local routes = require "gcrun.sandbox.routes"
local sys = require "gcrun.sys"
local text = require "gcrun.text"

local M = {}
local Sandbox = {}
Sandbox.__index = Sandbox

local WINDOW = 60   -- seconds of a rate-limit window, as the service uses

-- A small seeded generator, so a run with --seed meets the same faults.
local function rng(seed)
  local state = (math.tointeger(seed) or os.time()) % 2147483647
  if state <= 0 then state = state + 2147483646 end
  return function()
    state = (state * 48271) % 2147483647
    return state / 2147483647
  end
end

local function load_org(args)
  if args.state then
    local st = sys.stat(args.state)
    if st then
      local org, err = org_mod.load(args.state)
      if not org then error("sandbox state " .. err, 0) end
      return org, false
    end
  end
  local org, err = org_mod.load(args.org, args.id_seed)
  if not org then error("sandbox org " .. err, 0) end
  return org, true
end

function M.new(args)
  local org, fresh = load_org(args)
  local self = setmetatable({
    org = org, args = args, tokens = {}, windows = {}, random = rng(args.seed),
    latency = (tonumber(args.latency) or 0) / 1000, rate = tonumber(args.rate) or 300,
    faults = args.faults or {}, dirty = false, issued = 0, live_tokens = 0,
    stats = { requests = 0, by_status = {}, by_method = {}, throttled = 0, injected = {}, editor_edits = 0,
      lock_conflicts = 0, tokens = 0, live_tokens = 0, by_route = {} },
  }, Sandbox)
  if fresh and args.state then
    local dir = args.state:match("^(.*)/[^/]+$")
    if dir then sys.mkdir_p(dir) end
    assert(org:save(args.state))
  end
  return self
end

---------------------------------------------------------------- auth

local function form_decode(body)
  local t = {}
  for k, v in body:gmatch("([^&=]+)=([^&]*)") do
    local function dec(s)
      return (s:gsub("+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
    end
    t[dec(k)] = dec(v)
  end
  return t
end

local function oauth_error(status, err, desc)
  return respond.json(status, { error = err, description = desc, error_description = desc })
end

function Sandbox:token(req, tutorial)
  if req.method ~= "POST" then return respond.error(405, "method.not.allowed", "Use POST") end
  local id, secret, grant
  if tutorial then
    local body = json.decode(req.body)
    if type(body) ~= "table" then return oauth_error(400, "invalid_request", "the body must be a JSON object") end
    id, secret, grant = body.client_id, body.client_secret, body.grant_type
  else
    local basic = (req.headers.authorization or ""):match("^Basic%s+(.+)$")
    if basic then id, secret = text.base64_decode(basic):match("^([^:]*):(.*)$") end
    grant = form_decode(req.body).grant_type
  end
  if grant ~= "client_credentials" then
    return oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
  end
  local client = id and self.org:get("clients", id)
  if not client or client.secret ~= secret then
    return oauth_error(401, "invalid_client", "client not found or bad secret")
  end
  self.issued = self.issued + 1
  self.stats.tokens = self.issued
  local ttl = tonumber(self.args.token_ttl) or 86400
  local token = string.format("sbx-%s-%d-%08x", id:gsub("[^%w]", ""), self.issued,
    math.floor(self.random() * 0xffffffff))
  self:sweep_tokens()
  self.tokens[token] = { client = client, expires = sys.clock() + ttl }
  self.live_tokens = self.live_tokens + 1
  self.stats.live_tokens = self.live_tokens
  -- gcrun.server mirrors it, to let this token's requests send large bodies
  self.granted = { token = token, ttl = ttl }
  return respond.json(200, { access_token = token, token_type = "bearer", expires_in = ttl })
end

-- Expired tokens leave the table (at most one sweep a second), so a
-- client that logs in again and again does not grow it without bound.
function Sandbox:sweep_tokens()
  local now = sys.clock()
  if now - (self.swept or 0) < 1 then return end
  self.swept = now
  for token, t in pairs(self.tokens) do
    if now >= t.expires then
      self.tokens[token] = nil
      self.live_tokens = self.live_tokens - 1
    end
  end
  self.stats.live_tokens = self.live_tokens
end

function Sandbox:authenticate(req)
  local auth = req.headers.authorization
  if not auth then
    return nil, respond.error(401, "authentication.required",
      "No authentication bearer token specified in authorization header.")
  end
  local token = auth:match("^Bearer%s+(.+)$") or ""
  local t = self.tokens[token]
  if t and sys.clock() >= t.expires then
    self.tokens[token] = nil
    self.live_tokens = self.live_tokens - 1
    self.stats.live_tokens = self.live_tokens
    t = nil
  end
  if not t then
    return nil, respond.error(401, "bad.credentials", "Invalid login credentials.")
  end
  return t.client
end

---------------------------------------------------------------- rate limit

-- A fixed window of `rate` requests a minute per client; every answer
-- carries the inin-ratelimit-* headers, a 429 also Retry-After.
function Sandbox:ratelimit(client)
  local now = sys.clock()
  local w = self.windows[client.id]
  if not w or now >= w.reset then
    w = { reset = now + WINDOW, count = 0 }
    self.windows[client.id] = w
  end
  w.count = w.count + 1
  local left = math.max(1, math.ceil(w.reset - now))
  local headers = {
    ["inin-ratelimit-count"] = tostring(w.count), ["inin-ratelimit-allowed"] = tostring(self.rate),
    ["inin-ratelimit-reset"] = tostring(left),
  }
  if w.count > self.rate then
    headers["Retry-After"] = tostring(left)
    self.stats.throttled = self.stats.throttled + 1
    return headers, respond.error(429, "too.many.requests",
      string.format("Rate limit exceeded the maximum [%d] requests within [%d] seconds", self.rate, WINDOW),
      { params = { limit = self.rate, seconds = WINDOW }, headers = headers })
  end
  return headers
end

---------------------------------------------------------------- faults

function Sandbox:roll(kind)
  local p = tonumber(self.faults[kind]) or 0
  if p > 0 and self.random() < p then
    self.stats.injected[kind] = (self.stats.injected[kind] or 0) + 1
    return true
  end
  return false
end

---------------------------------------------------------------- dispatch

-- The sandbox's own endpoints, outside the API: state and counters for
-- tests and for people poking at it with curl.
function Sandbox:control(req)
  if req.path == "/sandbox/org" then
    local copy = json.copy(self.org.data)
    for _, c in ipairs(copy.clients) do c.secret = nil end
    return respond.json(200, copy)
  elseif req.path == "/sandbox/stats" then
    return respond.json(200, self.stats)
  end
  return respond.not_found("sandbox resource", req.path)
end

function Sandbox:dispatch(req)
  if req.path:sub(1, 9) == "/sandbox/" then return self:control(req) end
  local tutorial = false
  local path = req.path
  if path == "/tutorial" or path:sub(1, 10) == "/tutorial/" then
    tutorial = true
    path = path:sub(10)
  end
  if (not tutorial and path == "/oauth/token") or (tutorial and path == "/api/v2/oauth/token") then
    return self:token(req, tutorial)
  end
  local client, denied = self:authenticate(req)
  if not client then return denied end
  self.stats.by_method[req.method] = (self.stats.by_method[req.method] or 0) + 1
  local headers, throttled = self:ratelimit(client)
  if throttled then return throttled end
  local resp
  if self:roll("503") then
    resp = respond.error(503, "service.unavailable", "Service Unavailable - The server is currently unavailable")
  elseif self:roll("429") then
    headers["Retry-After"] = "1"
    resp = respond.error(429, "too.many.requests", "Rate limit exceeded (injected)", { headers = headers })
  else
    local drop = self:roll("drop")
    local before = drop and self.random() < 0.5
    if before then return nil, { drop = true } end
    resp = routes.dispatch(self, req, path, client, tutorial)
    if drop then return resp, { drop = true } end   -- done, but the answer is lost
  end
  for k, v in pairs(headers) do resp.headers[k] = resp.headers[k] or v end
  return resp
end

function Sandbox:handle(req)
  local t0 = sys.clock()
  local control = req.path:sub(1, 9) == "/sandbox/"
  if not control then self.stats.requests = self.stats.requests + 1 end
  local ok, resp, opts = pcall(self.dispatch, self, req)
  if not ok then
    io.stderr:write("gcrun sandbox: error handling ", text.printable(req.method .. " " .. req.path .. ": "
      .. tostring(resp)), "\n")
    resp = respond.error(500, "internal.server.error", "The server encountered an unexpected condition")
    opts = nil
  end
  opts = opts or {}
  -- the latency stands for the service's; the sandbox's own control
  -- routes answer at once, so a test can watch the org while answers wait
  opts.delay = not control and self.latency or 0
  opts.commit = self.dirty
  if self.granted then
    opts.grant, opts.grant_ttl = self.granted.token, self.granted.ttl
    self.granted = nil
  end
  local status = resp and resp.status or 0
  if not control then
    self.stats.by_status[tostring(status)] = (self.stats.by_status[tostring(status)] or 0) + 1
  end
  if self.args.log then
    -- the method and path are the client's: printable, so a request cannot drive the terminal
    io.stderr:write(string.format("%s %s %s -> %s%s (%.1f ms)\n", text.iso8601(sys.time()), text.printable(req.method),
      text.printable(req.path), opts.drop and "dropped" or tostring(status), opts.drop and "" or "",
      (sys.clock() - t0) * 1000))
  end
  if not resp then return 0, {}, "", opts end
  return resp.status, resp.headers, resp.body, opts
end

-- Called by gcrun.server after a batch of requests that wrote: one save
-- for all of them before any of them is answered.
-- A failed save raises: gcrun.server then answers every write of the
-- batch 500, and the org stays dirty so the next commit tries again.
function Sandbox:commit()
  if self.dirty and self.args.state then
    local ok, err = self.org:save(self.args.state)
    if not ok then error("cannot save the sandbox state: " .. tostring(err), 0) end
  end
  self.dirty = false
end

function Sandbox:close()
  self:commit()
end

return M
