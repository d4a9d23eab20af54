-- gcrun.retry.on_conflict: fetch, modify, submit; refetch and reapply on
-- conflicts; an edit is never lost and never applied twice.
local http = require "gcrun.http"
local retry = require "gcrun.retry"
local server = require "gcrun.server"

local function no_sleep() end

-- A resource held in Lua, with a hook to let "another writer" in.
local function store()
  local s = { doc = { version = 1, items = {} }, submits = 0 }
  function s.fetch()
    return { version = s.doc.version, items = { table.unpack(s.doc.items) } }
  end
  function s.apply(new)
    s.submits = s.submits + 1
    if new.version ~= s.doc.version then return { status = 409, body = "conflict" } end
    s.doc = { version = new.version + 1, items = new.items }
    return { status = 200, body = "ok" }
  end
  return s
end

local function add_mine(doc)
  for _, it in ipairs(doc.items) do if it == "mine" then return false end end
  doc.items[#doc.items + 1] = "mine"
  return true
end

describe("gcrun.retry.on_conflict", function()
  it("submits once when nobody else writes", function()
    local s = store()
    local r = retry.on_conflict { fetch = s.fetch, modify = add_mine, submit = s.apply, sleep = no_sleep }
    assert.is_true(r.changed)
    assert.equal(1, r.attempts)
    assert.equal(0, r.conflicts)
    assert.same({ "mine" }, s.doc.items)
  end)

  it("refetches and reapplies after 409s, keeping the other writer's change", function()
    local s = store()
    local interfere = 2
    local fetch = function()
      local d = s.fetch()
      if interfere > 0 then           -- someone saves right after our read
        interfere = interfere - 1
        s.doc.version = s.doc.version + 1
        s.doc.items[#s.doc.items + 1] = "other"
      end
      return d
    end
    local r = retry.on_conflict { fetch = fetch, modify = add_mine, submit = s.apply, sleep = no_sleep }
    assert.is_true(r.changed)
    assert.equal(3, r.attempts)
    assert.equal(2, r.conflicts)
    assert.same({ "other", "other", "mine" }, s.doc.items)
  end)

  it("asks the caller's predicate what a conflict is (a 400 saying the version does not match)", function()
    local n = 0
    local seen = {}
    local r = retry.on_conflict {
      fetch = function() return {} end, modify = function() return true end, sleep = no_sleep,
      conflict = function(resp)
        seen[#seen + 1] = resp.status
        return resp.status == 400 and resp.body:find("does not match the current version", 1, true) ~= nil
      end,
      submit = function()
        n = n + 1
        if n == 1 then return { status = 400, body = '{"message":"Version 3 does not match the current version 4"}' } end
        return { status = 200, body = "" }
      end,
    }
    assert.equal(2, r.attempts)
    assert.same({ 400 }, seen)           -- asked about the refusal, not the success
  end)

  it("without a predicate a 400 is no conflict, whatever its text: C knows no service wording", function()
    local ok, err = pcall(retry.on_conflict, {
      fetch = function() return {} end, modify = function() return true end, sleep = no_sleep,
      submit = function() return { status = 400, body = '{"message":"Version 3 does not match the current version 4"}' } end,
    })
    assert.is_false(ok)
    assert.equal("http", err.code)
    assert.equal(400, err.status)
  end)

  it("a predicate that says no ends the loop, even on a 409", function()
    local ok, err = pcall(retry.on_conflict, {
      fetch = function() return {} end, modify = function() return true end, sleep = no_sleep,
      conflict = function() return false end,
      submit = function() return { status = 409, body = "" } end,
    })
    assert.is_false(ok)
    assert.equal(409, err.status)
  end)

  it("needs the caller's sleep: it requires no Lua module itself", function()
    local ok, err = pcall(retry.on_conflict, {
      fetch = function() return {} end, modify = function() return true end,
      submit = function() return { status = 200, body = "" } end,
    })
    assert.is_false(ok)
    assert.matches("needs a sleep function", tostring(err))
  end)

  it("waits as the one backoff says: capped exponential, full jitter below it", function()
    local waits = {}
    pcall(retry.on_conflict, {
      fetch = function() return {} end, modify = function() return true end, attempts = 6,
      sleep = function(s) waits[#waits + 1] = s end, backoff_base = 1, backoff_cap = 4,
      submit = function() return { status = 409, body = "" } end,
    })
    assert.equal(5, #waits)
    for i, w in ipairs(waits) do
      assert.is_true(w >= 0 and w < math.min(4, 2 ^ (i - 1)), "wait " .. i .. " was " .. w)
    end
    assert.equal(0.25, retry.backoff(1, 0.25, 2, 1))
    assert.equal(1, retry.backoff(3, 0.25, 2, 1))
    assert.equal(2, retry.backoff(5, 0.25, 2, 1))
    assert.equal(0.5, retry.backoff(3, 0.25, 2, 0.5))
    for _ = 1, 50 do
      local w = retry.backoff(4, 1, 30)
      assert.is_true(w >= 0 and w < 8)
    end
  end)

  it("resubmits after a 503 or 429 answer to the submit, which was not processed", function()
    local n = 0
    local r = retry.on_conflict {
      fetch = function() return {} end, modify = function() return true end, sleep = no_sleep,
      submit = function()
        n = n + 1
        if n == 1 then return { status = 503, body = "" } end
        if n == 2 then return { status = 429, body = "" } end
        return { status = 200, body = "" }
      end,
    }
    assert.equal(3, r.attempts)
  end)

  it("gives up after the allowed attempts with the last response", function()
    local ok, err = pcall(retry.on_conflict, {
      fetch = function() return {} end, modify = function() return true end, sleep = no_sleep, attempts = 3,
      submit = function() return { status = 409, body = "locked" } end,
    })
    assert.is_false(ok)
    assert.equal("conflict", err.code)
    assert.equal(3, err.attempts)
    assert.equal(409, err.response.status)
    assert.matches("still conflicting after 3 attempts", tostring(err))
  end)

  it("after an unknown outcome refetches, finds the edit landed, and stops", function()
    local s = store()
    local submit = function(new)
      s.apply(new)                    -- it lands, but the answer is lost
      error({ code = "unknown_outcome", message = "connection dropped" })
    end
    local r = retry.on_conflict { fetch = s.fetch, modify = add_mine, submit = submit, sleep = no_sleep }
    assert.is_true(r.changed)
    assert.is_true(r.unknown)
    assert.equal(1, s.submits)
    assert.same({ "mine" }, s.doc.items)
  end)

  it("does nothing when there is nothing to change", function()
    local s = store()
    s.doc.items = { "mine" }
    local r = retry.on_conflict { fetch = s.fetch, modify = add_mine, submit = s.apply, sleep = no_sleep }
    assert.is_false(r.changed)
    assert.equal(0, s.submits)
  end)

  it("raises other refusals with the response", function()
    local ok, err = pcall(retry.on_conflict, {
      fetch = function() return {} end, modify = function() return true end, sleep = no_sleep,
      submit = function() return { status = 403, body = "no" } end,
    })
    assert.is_false(ok)
    assert.equal("http", err.code)
    assert.equal(403, err.status)
  end)

  it("passes other errors of submit through unchanged", function()
    local ok, err = pcall(retry.on_conflict, {
      fetch = function() return {} end, modify = function() return true end, sleep = no_sleep,
      submit = function() error({ code = "interrupted", message = "stop" }) end,
    })
    assert.is_false(ok)
    assert.equal("interrupted", err.code)
  end)

  it("runs inside parallel tasks whose requests yield, over real HTTP", function()
    local srv = server.listen { handler = "tests.servers.behave" }
    local c = http.client { base_url = srv:url() }
    local results = http.parallel({ "a", "b", "c" }, function(key)
      local r = retry.on_conflict {
        fetch = function() return c:request({ path = "/doc", query = { key = key, interfere = 2 } }):json() end,
        modify = add_mine,
        submit = function(doc) return c:request { method = "PUT", path = "/doc", query = { key = key }, json = doc } end,
        sleep = http.sleep, backoff_base = 0.01,
      }
      local final = c:request({ path = "/doc", query = { key = key } }):json()
      return { attempts = r.attempts, items = final.items }
    end, { concurrency = 3 })
    srv:stop()
    for _, res in ipairs(results) do
      assert.equal(3, res.attempts)
      assert.same({ "other-1", "other-2", "mine" }, res.items)
    end
  end)
end)
