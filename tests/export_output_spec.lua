-- queue-export's results (a line per file, the count) are on stdout, and
-- the file names it prints are the files it wrote.
local h = require "tests.helpers"
local sys = require "gcrun.sys"

describe("queue-export's output", function()
  local sb, dir
  before_each(function()
    sb = h.sandbox()
    dir = h.tmpdir()
  end)
  after_each(function()
    sb.stop()
    h.rmtree(dir)
  end)

  it("lists the files written on stdout, with no doubled slash for --out DIR/", function()
    local r = sb.run { "queue-export", "--out", dir .. "/export/" }
    assert.equal(0, r.status, r.stderr)
    assert.truthy(r.stdout:find("  Billing -> " .. dir .. "/export/billing.json\n", 1, true), r.stdout)
    assert.truthy(r.stdout:find("queue-export: 12 definitions written to " .. dir .. "/export\n", 1, true), r.stdout)
    assert.is_nil(r.stdout:find("//", 1, true), r.stdout)
    assert.is_nil(r.stderr:find(" -> ", 1, true), r.stderr)
    assert.truthy(sys.stat(dir .. "/export/billing.json"))
  end)
end)
