-- gcrun.api.call counts every request, retry and 429 for the queue or flow
-- it was made for, also when the request ends in a transport error: the
-- report's figures come from these counters.
local call = require "gcrun.api.call"
local http = require "gcrun.http"
local server = require "gcrun.server"

describe("gcrun.api.call counters", function()
  local srv, api

  setup(function() srv = server.listen { handler = "tests.servers.behave" } end)
  teardown(function() srv:stop() end)
  before_each(function()
    api = { c = http.client { base_url = srv:url(), backoff_base = 0.01, backoff_cap = 0.02 },
      counters = call.counters() }
  end)

  it("counts the attempts and 429s of a request that ends in a dropped connection", function()
    local ok, err = pcall(call.send, api, { method = "POST", path = "/throttled-drop", query = { key = "send" } },
      "save flow")
    assert.is_false(ok)
    assert.matches("^save flow: ", err.message)
    assert.same({ requests = 2, retries = 1, throttled = 1, writes = 0 }, api.counters)
  end)

  it("counts the retries of a request that succeeds, and the write", function()
    local resp = call.run(api, { method = "PUT", path = "/flaky", query = { key = "run", fail = 2 } }, "put")
    assert.equal(200, resp.status)
    assert.same({ requests = 3, retries = 2, throttled = 0, writes = 1 }, api.counters)
  end)

  it("returns an error answer from send and raises it from run, counted once each", function()
    assert.equal(404, call.send(api, { path = "/status/404" }).status)
    assert.has_error(function() call.run(api, { path = "/status/404" }, "get") end)
    assert.same({ requests = 2, retries = 0, throttled = 0, writes = 0 }, api.counters)
  end)
end)

describe("gcrun.api.call paging", function()
  local srv, api
  setup(function() srv = server.listen { handler = "tests.servers.pages" } end)
  teardown(function() srv:stop() end)
  before_each(function() api = { c = http.client { base_url = srv:url(), max_attempts = 1 }, counters = call.counters() } end)

  local function hits(path)
    return api.c:request({ path = "/hits", query = { of = path } }):json().hits
  end

  it("gives up on a listing that hands out new nextUris with non-empty pages for ever", function()
    local ok, err = pcall(call.pages, api, "/endless", nil, { key = "cap" }, "GET endless", { max_pages = 25 })
    assert.is_false(ok)
    assert.equal("bad_response", err.code)
    assert.equal("GET endless: the listing goes on past 25 pages; gave up", err.message)
    assert.equal(25, hits("cap"))
  end)

  it("has an absolute page cap by default", function()
    assert.equal(10000, require("gcrun.defaults").max_pages)
  end)

  it("reads no more pages than the listing's pageCount says", function()
    local list = call.pages(api, "/counted", nil, { key = "count" })
    assert.same({ "/counted-1", "/counted-2", "/counted-3" }, { list[1].id, list[2].id, list[3].id })
    assert.equal(3, #list)
    assert.equal(3, hits("count"))
  end)

  it("stops where the listing says it ends, also at the absolute cap", function()
    assert.equal(3, #call.pages(api, "/counted", nil, { key = "at-cap" }, nil, { max_pages = 3 }))
    assert.equal(3, hits("at-cap"))
  end)

  it("reads no more pages than total and pageSize make", function()
    assert.equal(4, #call.pages(api, "/totalled", nil, { key = "total" }))
    assert.equal(4, hits("total"))
  end)

  it("gives the pages one at a time to gc.paginate's loop", function()
    local next_page = call.pager(api, "/counted", nil, { key = "lazy" }, nil)
    assert.same({ { id = "/counted-1" } }, next_page())
    assert.equal(1, hits("lazy"))
    assert.same({ { id = "/counted-2" } }, next_page())
    assert.same({ { id = "/counted-3" } }, next_page())
    assert.is_nil(next_page())
    assert.equal(3, hits("lazy"))
  end)
end)
