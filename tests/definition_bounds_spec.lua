-- Definition checks on hostile files: every file under the 1 MiB limit is
-- checked in well under a second (the checks are linear or capped), and
-- a key written with escapes is the same key as written plainly.
local definitions = require "gcrun.definitions"
local h = require "tests.helpers"

local Q = "8b5a7400-cca4-4239-9271-5e22c8399ed5"

-- CPU seconds, not wall time: the machine running the tests may be busy
local function timed(fn)
  local t = os.clock()
  local a, b = fn()
  return os.clock() - t, a, b
end

local function rep(n, fmt)
  local t = {}
  for i = 1, n do t[i] = string.format(fmt, i, i) end
  return table.concat(t, ",")
end

describe("definition checks on hostile files", function()
  local dir
  setup(function() dir = h.tmpdir() end)
  teardown(function() h.rmtree(dir) end)

  local function load(name, text)
    assert.is_true(#text < definitions.MAX_FILE, name .. " must be under the size limit")
    local path = h.write(dir .. "/" .. name, text)
    local secs, def, c = timed(function() return definitions.load(path) end)
    assert.is_true(secs < 2, string.format("%s took %.2f s", name, secs))
    return def, c
  end

  it("checks 170,000 repeats of one member key at once, as one finding", function()
    local def, c = load("repeats.json", '{"queue_id": "' .. Q .. '", "members": {' .. string.rep('"u":1,', 170000) .. '"u":2}}')
    assert.truthy(def, c.errors[1] and c.errors[1].reason)
    assert.equal(1, #c.findings)
    assert.equal("duplicate-member", c.findings[1].kind)
  end)

  it("rejects 90,000 repeats of a top-level key with one error", function()
    local def, c = load("top.json", '{"queue_id": "' .. Q .. '", '
      .. string.rep('"name":"x",', 90000) .. '"name":"y"}')
    assert.is_nil(def)
    assert.equal(1, #c.errors)
    assert.equal("name", c.errors[1].field)
    assert.matches("appears more than once %(repeated at line 1, column 65%)", c.errors[1].reason)
  end)

  it("checks 100,000 distinct member keys", function()
    local def = load("distinct.json", '{"queue_id": "' .. Q .. '", "members": {' .. rep(100000, '"%x":1') .. '}}')
    assert.equal(100000, #def.members)
  end)

  it("warns about one 900 KB unknown key without measuring it against every known one", function()
    local def, c = load("long.json", '{"queue_id": "' .. Q .. '", "' .. string.rep("x", 900000) .. '": 1}')
    assert.truthy(def)
    assert.equal(1, #c.warnings)
    assert.matches("unknown key 'x+%.%.%.' is ignored$", c.warnings[1])
    assert.is_true(#c.warnings[1] < 200)
  end)

  it("names ten of 50,000 unknown keys and counts the rest", function()
    local def, c = load("unknown.json", '{"queue_id": "' .. Q .. '", ' .. rep(50000, '"k%x": 1') .. '}')
    assert.truthy(def)
    assert.equal(definitions.MAX_UNKNOWN_NAMED + 1, #c.warnings)
    assert.matches("49990 more unknown keys are ignored", c.warnings[#c.warnings])
  end)

  it("refuses a file with 55,000 duplicated skills instead of correcting each one", function()
    -- each finding costs the correction rules a pass over the skills
    local def, c = load("pairs.json", '{"queue_id": "' .. Q .. '", "skills": {' .. rep(55000, '"%x":1,"%x":2') .. '}}')
    assert.is_nil(def)
    assert.matches("55000 duplicate or invalid entries; gcrun corrects at most 100", c.errors[1].reason)
  end)
end)

describe("escaped keys", function()
  local function parse(text) return definitions.parse(text, "q.json") end

  it("rejects a top-level key repeated with escapes, instead of letting the later win", function()
    local def, c = parse('{"queue_id": "' .. Q .. '", "name": "Sales", "\\u006eame": "Other"}')
    assert.is_nil(def)
    assert.equal("name", c.errors[1].field)
    assert.matches("appears more than once", c.errors[1].reason)
  end)

  it("finds a member repeated with escapes, keeping the first", function()
    local def, c = parse('{"queue_id": "' .. Q .. '", "members": {"u1": 2, "\\u0075\\u0031": 5}}')
    assert.equal(1, #c.findings)
    assert.equal("duplicate-member", c.findings[1].kind)
    assert.same({ { id = "u1", priority = 2 }, { id = "u1", priority = 5, duplicate = true } }, def.members)
  end)

  it("finds repeats of keys escaped in every way JSON allows", function()
    local def, c = parse('{"queue_id": "' .. Q .. '", "skills": {"a/\\"\\u00e9\\ud83d\\ude00": 1, '
      .. '"a\\/\\u0022\195\169\240\159\152\128": 2}, "\\u006dembers": {}}')
    assert.truthy(def, c.errors[1] and c.errors[1].reason)
    assert.equal(1, #c.findings)
    assert.equal("duplicate-skill", c.findings[1].kind)
    assert.equal('a/"\195\169\240\159\152\128', c.findings[1].id)
  end)
end)
