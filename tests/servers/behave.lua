-- A test server whose behaviour each request chooses: statuses, waits,
-- dropped connections, rate-limit headers, an OAuth token endpoint and a
-- protected resource, and hostile answers (HTML, truncated JSON, empty
-- bodies, huge headers, endless redirects). Counters are kept per key so
-- a spec can ask afterwards what the server saw.
local cjson = require "cjson"
local sys = require "gcrun.sys"
local text = require "gcrun.text"

local M = {}

local function json(status, t, headers, opts)
  headers = headers or {}
  headers["Content-Type"] = "application/json"
  return status, headers, cjson.encode(t), opts
end

function M.new(args)
  local self = setmetatable({ hits = {}, tokens = {}, issued = 0, window = nil, args = args or {} }, { __index = M })
  return self
end

function M:hit(key)
  self.hits[key] = (self.hits[key] or 0) + 1
  return self.hits[key]
end

function M:handle(req)
  local q = req.query
  local path = req.path
  local key = q.key or path
  local n = self:hit(key)

  if path == "/token-requests" then
    return json(200, { requests = self.token_requests or {} })
  elseif path == "/echo" then
    return json(200, { method = req.method, path = path, query = q, headers = req.headers, body = req.body })
  elseif path == "/hits" then
    return json(200, { hits = self.hits[q.of] or 0 })
  elseif path:match("^/status/%d+$") then
    local h = {}
    if q.retry_after then h["Retry-After"] = q.retry_after end
    return json(tonumber(path:match("%d+")), { message = "status", code = "x", status = tonumber(path:match("%d+")) }, h)
  elseif path == "/flaky" then
    -- the first `fail` requests for this key answer `code`
    if n <= tonumber(q.fail or 1) then
      local h = {}
      if q.retry_after then h["Retry-After"] = q.retry_after end
      return json(tonumber(q.code or 503), { message = "try again", code = "service.unavailable" }, h)
    end
    return json(200, { ok = true, attempt = n })
  elseif path == "/drop" then
    if n <= tonumber(q.times or 1) then return 0, {}, "", { drop = true } end
    return json(200, { ok = true, attempt = n })
  elseif path == "/throttled-drop" then
    -- a 429 that asks for no wait, then the connection drops: an error
    -- that carries a 429 before it
    if n == 1 then return json(429, { message = "slow down", code = "too.many.requests" }, { ["Retry-After"] = "0" }) end
    return 0, {}, "", { drop = true }
  elseif path == "/slow" then
    return json(200, { ok = true }, nil, { delay = tonumber(q.ms or 100) / 1000 })
  elseif path == "/ratelimit" then
    -- a fixed window of `allowed` requests per `window` seconds
    local allowed, window = tonumber(q.allowed or 10), tonumber(q.window or 1)
    local now = sys.clock()
    if not self.window or now >= self.window.reset then
      self.window = { reset = now + window, count = 0, throttled = 0 }
    end
    local w = self.window
    w.count = w.count + 1
    local left = math.max(0, math.ceil(w.reset - now))
    local h = {
      ["inin-ratelimit-count"] = tostring(w.count), ["inin-ratelimit-allowed"] = tostring(allowed),
      ["inin-ratelimit-reset"] = tostring(left),
    }
    if w.count > allowed then
      w.throttled = w.throttled + 1
      h["Retry-After"] = tostring(left)
      return json(429, { message = "Rate limit exceeded", code = "too.many.requests", status = 429 }, h)
    end
    return json(200, { count = w.count, throttled = w.throttled }, h)
  elseif path == "/oauth/token" or path == "/api/v2/oauth/token" then
    local id, secret
    local auth = req.headers.authorization or ""
    self.token_requests = self.token_requests or {}
    table.insert(self.token_requests, { path = path, basic = auth:match("^Basic ") ~= nil,
      content_type = req.headers["content-type"], body_is_json = (pcall(cjson.decode, req.body or "")) })
    if auth:match("^Basic ") then
      id, secret = text.base64_decode(auth:sub(7)):match("^([^:]*):(.*)$")
    else
      local ok, body = pcall(cjson.decode, req.body)
      if ok and type(body) == "table" then id, secret = body.client_id, body.client_secret end
    end
    if self.args.echo_auth then   -- a login host that quotes what it was sent
      return json(401, { error = "invalid_client", error_description = "rejected header: " .. auth })
    end
    if id ~= (self.args.client_id or "cid") or secret ~= (self.args.client_secret or "csecret") then
      return json(401, { error = "invalid_client", error_description = "client authentication failed" })
    end
    self.issued = self.issued + 1
    -- args.token: a fixed token (a hostile login host's, say)
    local token = self.args.token or ((self.args.token_prefix or "tok-") .. self.issued)
    self.tokens[token] = true
    return json(200, { access_token = token, token_type = "bearer", expires_in = tonumber(q.ttl or self.args.ttl or 86400) })
  elseif path == "/protected" then
    local token = (req.headers.authorization or ""):match("^Bearer (.+)$")
    if not token or not self.tokens[token] then
      return json(401, { message = "No authentication bearer token specified", code = "authentication.required", status = 401 })
    end
    return json(200, { token_ok = true, issued = self.issued })
  elseif path == "/doc" then
    -- a versioned document; ?interfere=N: the first N reads are followed
    -- by another writer's change, so the reader's next save is stale
    self.docs = self.docs or {}
    local doc = self.docs[key] or { version = 1, items = {} }
    self.docs[key] = doc
    if req.method == "GET" then
      local copy = cjson.encode(doc)
      local reads = self:hit(key .. ":reads")
      if reads <= tonumber(q.interfere or 0) then
        doc.version = doc.version + 1
        doc.items[#doc.items + 1] = "other-" .. reads
      end
      return 200, { ["Content-Type"] = "application/json" }, copy
    end
    local new = cjson.decode(req.body)
    if new.version ~= doc.version then
      return json(409, { message = "version " .. new.version .. " does not match the current version " .. doc.version,
        code = "general.conflict", status = 409 })
    end
    new.version = doc.version + 1
    self.docs[key] = new
    return json(200, new)
  elseif path == "/expire" then
    self.tokens = {}
    return json(200, {})
  elseif path == "/html" then
    return 500, { ["Content-Type"] = "text/html" }, "<html><body><h1>502 Bad Gateway</h1></body></html>"
  elseif path == "/empty" then
    return 200, { ["Content-Type"] = "application/json" }, ""
  elseif path == "/truncated" then
    return 200, { ["Content-Type"] = "application/json" }, '{"entities": [{"id": "a"'
  elseif path == "/bigheader" then
    return 200, { ["X-Big"] = string.rep("x", 200000) }, "{}"
  elseif path == "/manyheaders" then
    local h = {}
    for i = 1, tonumber(q.n or 20000) do h["X-H-" .. i] = "v" end
    return 200, h, "{}"
  elseif path == "/echo-auth" then
    -- an error page that quotes the request's Authorization header
    return 500, { ["Content-Type"] = "text/plain" }, "denied: " .. (req.headers.authorization or "")
  elseif path == "/emptyarrays" then
    return 200, { ["Content-Type"] = "application/json" }, "[" .. string.rep("[],", tonumber(q.n or 1000)) .. "[]]"
  elseif path == "/big" then
    local item = '"' .. string.rep("x", 1020) .. '",'
    return 200, { ["Content-Type"] = "application/json" }, "[" .. string.rep(item, tonumber(q.kb or 64)) .. '""]'
  elseif path == "/redirect" then
    return 302, { Location = "/redirect" }, ""
  end
  return json(404, { message = "no route " .. path, code = "not.found", status = 404 })
end

return M
