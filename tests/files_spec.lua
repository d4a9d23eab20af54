-- Files gcrun writes (reports, sandbox state, exports), as root would
-- write them into a directory others can write: one atomic-write
-- primitive (gcrun.sys) that never replaces a special file, never follows
-- a planted link, and uses a temporary name nobody can guess.
local h = require "tests.helpers"
local json = require "gcrun.json"
local sys = require "gcrun.sys"

local EXAMPLES = h.srcdir .. "/examples/queues"

local function sh(fmt, ...)
  local cmd = string.format(fmt, ...)
  assert(os.execute(cmd), cmd)
end

local function writes(stats)
  local m = stats.by_method
  return (m.PUT or 0) + (m.POST or 0) + (m.PATCH or 0) + (m.DELETE or 0)
end

describe("atomic writes", function()
  local dir
  before_each(function() dir = h.tmpdir() end)
  after_each(function() h.rmtree(dir) end)

  it("replaces a regular file whole and leaves no temporary file behind", function()
    local path = h.write(dir .. "/r.json", "old")
    assert.is_true(sys.write_atomic(path, "new"))
    local f = assert(sys.open_atomic(path))
    assert.is_true(f:write("newer"))
    assert.is_true(f:commit())
    assert.equal("newer", h.read(path))
    assert.same({ "r.json" }, sys.dir(dir))
  end)

  it("refuses a FIFO and a link to a device, and leaves them as they were", function()
    sh("mkfifo %s && ln -s /dev/null %s", h.quote(dir .. "/fifo"), h.quote(dir .. "/null"))
    for _, name in ipairs { "fifo", "null" } do
      local ok, err = sys.write_atomic(dir .. "/" .. name, "x")
      assert.is_nil(ok)
      assert.matches(name .. ": exists and is not a regular file; refusing to replace it", err)
      local f, ferr = sys.open_atomic(dir .. "/" .. name)
      assert.is_nil(f)
      assert.matches("not a regular file", ferr)
    end
    assert.equal("other", sys.stat(dir .. "/fifo").type)
    assert.equal("link", sys.lstat(dir .. "/null").type)
    assert.same({ "fifo", "null" }, sys.dir(dir))
  end)

  it("does not write through links planted under the old temporary names", function()
    -- the old name was <target>.tmp.<pid>, opened with O_CREAT|O_TRUNC:
    -- a link planted there made root truncate and write the link's target
    local victim = h.write(dir .. "/victim", "precious")
    local target = dir .. "/report.json"
    sh("ln -s victim %s", h.quote(target .. ".tmp." .. sys.getpid()))
    assert.is_true(sys.write_atomic(target, "report"))
    local f = assert(sys.open_atomic(target))
    f:write("report 2")
    assert.is_true(f:commit())
    assert.equal("precious", h.read(victim))
    assert.equal("report 2", h.read(target))
  end)

  it("names each temporary file unpredictably", function()
    -- two files open at once for the same target by the same process get
    -- different names, neither of them made of the pid
    local a = assert(sys.open_atomic(dir .. "/t"))
    local b = assert(sys.open_atomic(dir .. "/t"))
    local names = sys.dir(dir)
    assert.equal(2, #names)
    for _, n in ipairs(names) do
      assert.matches("^t%.tmp%.%x+$", n)
      assert.is_nil(n:find(tostring(sys.getpid()), 1, true))
    end
    assert.are_not.equal(names[1], names[2])
    a:discard()
    b:discard()
    assert.same({}, sys.dir(dir))
  end)

  it("creates the file with the mode asked for", function()
    assert.is_true(sys.write_atomic(dir .. "/state.json", "{}", 384))
    assert.equal(384, sys.stat(dir .. "/state.json").mode)
  end)
end)

describe("queue-sync --report", function()
  local sb, dir
  before_each(function()
    sb = h.sandbox()
    dir = h.tmpdir()
  end)
  after_each(function()
    sb.stop()
    h.rmtree(dir)
  end)

  it("refuses a report path that is a FIFO or a link to a device before anything is sent", function()
    sh("mkfifo %s && ln -s /dev/null %s", h.quote(dir .. "/fifo"), h.quote(dir .. "/null"))
    for _, name in ipairs { "fifo", "null" } do
      local r = sb.run { "queue-sync", "--report", dir .. "/" .. name, EXAMPLES }
      assert.equal(2, r.status, r.stderr)
      assert.matches("%-%-report .*" .. name .. ":? exists and is not a regular file", r.stderr)
    end
    assert.equal(0, writes(sb.stats()))
    assert.equal("other", sys.stat(dir .. "/fifo").type)
    assert.equal("link", sys.lstat(dir .. "/null").type)
  end)

  it("writes the report to standard output with --report -, and nothing else there", function()
    local r = sb.run({ "queue-sync", "--report", "-", EXAMPLES }, { cwd = dir })
    assert.equal(0, r.status, r.stderr)
    local doc = assert(json.decode(r.stdout))
    assert.equal("completed", doc.run.status)
    assert.equal(6, #doc.changes)
    assert.same({}, sys.dir(dir))
  end)
end)

describe("queue-export and the sandbox state", function()
  local dir
  before_each(function() dir = h.tmpdir() end)
  after_each(function() h.rmtree(dir) end)

  it("queue-export refuses to replace a FIFO in the output directory", function()
    local sb = h.sandbox()
    local org = sb.org()
    local name = org.queues[1].name:lower():gsub("[^%w]+", "-"):gsub("^%-+", ""):gsub("%-+$", "") .. ".json"
    sh("mkfifo %s", h.quote(dir .. "/" .. name))
    local r = sb.run { "queue-export", "--out", dir }
    sb.stop()
    assert.are_not.equal(0, r.status)
    assert.matches(name:gsub("%p", "%%%0") .. ": exists and is not a regular file", r.stderr)
    assert.equal("other", sys.stat(dir .. "/" .. name).type)
  end)

  it("the sandbox refuses to save its state over a FIFO", function()
    local org = require("gcrun.sandbox.org")
    local o = org.load(h.srcdir .. "/examples/sandbox-org.json")
    sh("mkfifo %s", h.quote(dir .. "/state.json"))
    local ok, err = o:save(dir .. "/state.json")
    assert.is_nil(ok)
    assert.matches("not a regular file", err)
  end)
end)
