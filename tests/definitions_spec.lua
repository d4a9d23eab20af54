-- Definition files: the tutorial's format and defaults, gcrun's
-- extensions, findings for the correction rules, and a clear error for
-- everything malformed.
local definitions = require "gcrun.definitions"
local h = require "tests.helpers"
local sys = require "gcrun.sys"

local Q1 = "8b5a7400-cca4-4239-9271-5e22c8399ed5"   -- ids shaped as the API's are

local function parse(t, opts)
  return definitions.parse(type(t) == "string" and t or require("gcrun.json").encode(t), "q.json", opts)
end

describe("definitions", function()
  it("leaves every key a file leaves out unmanaged (nil), and keeps an explicit empty value", function()
    local def = parse { queue_id = Q1, description = "only this" }
    assert.equal("only this", def.description)
    for _, k in ipairs { "name", "outbound_queue", "wrap_up_policy", "acw_timer_required", "acw_timeout",
      "members", "skills", "division" } do
      assert.is_nil(def[k], k)
    end
    def = parse([[{"queue_id": "]] .. Q1 .. [[", "members": {}, "skills": []}]])
    assert.same({}, def.members)
    assert.same({}, def.skills)
  end)

  it("applies the tutorial's defaults to the fields a file leaves out under --defaults tutorial", function()
    local def = parse({ queue_id = Q1 }, { defaults = "tutorial" })
    assert.equal("Auto-Generated Queue", def.name)
    assert.equal("Updated via automation", def.description)
    assert.is_false(def.outbound_queue)
    assert.equal("required", def.wrap_up_policy)
    assert.is_true(def.acw_timer_required)
    assert.equal(300, def.acw_timeout)
    assert.same({}, def.members)
    assert.same({}, def.skills)
  end)

  it("reads skills and members as objects, in id order; level 0 or null is a removal", function()
    local text = [[{"queue_id": "]] .. Q1 .. [[", "skills": {"s2": 3, "s1": 0, "s3": 4.5, "s4": null},
      "members": {"u2": 2, "u1": 1}}]]
    local def = parse(text)
    assert.same({ { id = "s1", level = 0 }, { id = "s2", level = 3 }, { id = "s3", level = 4.5 },
      { id = "s4", level = 0 } }, def.skills)
    assert.same({ { id = "u1", priority = 1 }, { id = "u2", priority = 2 } }, def.members)
    -- the tutorial drops them
    def = parse(text, { defaults = "tutorial" })
    assert.same({ { id = "s2", level = 3 }, { id = "s3", level = 4.5 } }, def.skills)
  end)

  it("finds a queue by name when there is no queue_id, and takes names beside ids in the list form", function()
    local def = parse { name = "Billing", division = "Operations", flows = { "Inbound 01" },
      members = { { id = "u1", name = "Ana Lima", email = "ana@example.com", priority = 2 } },
      skills = { { id = "s1", name = "Billing", level = 3 } } }
    assert.is_nil(def.queue_id)
    assert.equal("Billing", def.name)
    assert.equal("Operations", def.division)
    assert.same({ "Inbound 01" }, def.flows)
    assert.same({ { id = "u1", priority = 2, label = "Ana Lima" } }, def.members)
    assert.same({ { id = "s1", level = 3, label = "Billing" } }, def.skills)
  end)

  it("makes an unknown key an error under --strict", function()
    local def, c = parse({ queue_id = Q1, descripton = "x" }, { strict = true })
    assert.is_nil(def)
    assert.equal("descripton", c.errors[1].field)
    assert.matches("is not a definition key %(did you mean 'description'%?%) %(%-%-strict%)", c.errors[1].reason)
  end)

  it("reads skills and members as lists of {id, level} and {id, priority}", function()
    local def = parse { queue_id = Q1, skills = { { id = "s1", level = 2 } },
      members = { { id = "u9", priority = 3 }, { id = "u1" } } }
    assert.same({ { id = "s1", level = 2 } }, def.skills)
    assert.same({ { id = "u9", priority = 3 }, { id = "u1", priority = 1 } }, def.members)
  end)

  it("reads the flows list and the queue object of extra fields", function()
    local def = parse { queue_id = Q1, flows = { "f1", "f2" }, queue = { enableTranscription = true } }
    assert.same({ "f1", "f2" }, def.flows)
    assert.same({ enableTranscription = true }, def.queue)
  end)

  it("turns a repeated member key into a finding, keeping the first value", function()
    local def, c = parse([[{"queue_id": "]] .. Q1 .. [[", "members": {"u1": 2, "u2": 1, "u1": 5}}]])
    assert.same({ { id = "u1", priority = 2 }, { id = "u1", priority = 5, duplicate = true }, { id = "u2", priority = 1 } },
      def.members)
    assert.equal(1, #c.findings)
    -- the kinds of gcrun.api.problems, one vocabulary with the service's
    assert.equal("duplicate-member", c.findings[1].kind)
    assert.equal("u1", c.findings[1].entity)
    assert.equal("members", c.findings[1].definition_field)
    assert.matches("Duplicate member 'u1'", c.findings[1].message)
  end)

  it("turns a repeated id in the list form into a finding", function()
    local _, c = parse { queue_id = Q1, members = { { id = "u1", priority = 1 }, { id = "u1", priority = 4 } },
      skills = { { id = "s1", level = 1 }, { id = "s1", level = 2 } } }
    local kinds = {}
    for _, f in ipairs(c.findings) do kinds[#kinds + 1] = f.kind end
    table.sort(kinds)
    assert.same({ "duplicate-member", "duplicate-skill" }, kinds)
  end)

  it("turns an unknown wrap_up_policy string into a finding, not an error", function()
    local def, c = parse { queue_id = Q1, wrap_up_policy = "sometimes" }
    assert.truthy(def)
    assert.equal("invalid-value", c.findings[1].kind)
    assert.equal("wrap_up_policy", c.findings[1].definition_field)
    assert.equal("sometimes", c.findings[1].value)
  end)

  it("warns about an unknown key, naming the closest known one", function()
    local def, c = parse { queue_id = Q1, memebrs = {} }
    assert.truthy(def)
    assert.matches("unknown key 'memebrs' is ignored %(did you mean 'members'%?%)", c.warnings[1])
  end)

  it("reports every malformed file in tests/fixtures/bad with its field and reason", function()
    local dir = h.srcdir .. "/tests/fixtures/bad"
    local expected = dofile(dir .. "/expected.lua")
    local count = 0
    for _, name in ipairs(sys.dir(dir)) do
      if name:match("%.json$") then
        count = count + 1
        local want = expected[name]
        assert.truthy(want, "no expectation for " .. name)
        local def, c = definitions.load(dir .. "/" .. name)
        assert.is_nil(def, name .. " was accepted")
        local e = c.errors[1]
        assert.equal(want[1], e.field, name)
        assert.matches(want[2], e.reason, 1, false, name)
        assert.equal(dir .. "/" .. name, e.file)
      end
    end
    assert.is_true(count >= 40)
  end)

  it("refuses a file over 1 MB before reading it", function()
    local dir = h.tmpdir()
    h.write(dir .. "/big.json", '{"queue_id": "' .. Q1 .. '", "description": "' .. string.rep("x", 10 * 1024 * 1024) .. '"}')
    local def, c = definitions.load(dir .. "/big.json")
    assert.is_nil(def)
    assert.matches("larger than the limit of 1048576", c.errors[1].reason)
    h.rmtree(dir)
  end)

  describe("paths", function()
    local dir
    before_each(function() dir = h.tmpdir() end)
    after_each(function() h.rmtree(dir) end)

    it("expands a directory to its *.json files, sorted, skipping others", function()
      h.write(dir .. "/b.json", '{"queue_id": "b"}')
      h.write(dir .. "/a.json", '{"queue_id": "a"}')
      h.write(dir .. "/notes.txt", "x")
      local files = definitions.expand { dir }
      assert.same({ dir .. "/a.json", dir .. "/b.json" }, files)
    end)

    it("reports a path that does not exist, and a directory with no definitions", function()
      os.execute("mkdir " .. h.quote(dir .. "/empty"))
      local _, errs = definitions.expand { dir .. "/missing.json", dir .. "/empty" }
      assert.matches("No such file or directory", errs[1].reason)
      assert.matches("directory has no %*.json files", errs[2].reason)
    end)

    it("reports a symlink loop in a directory argument", function()
      os.execute(string.format("ln -s b.json %s/a.json && ln -s a.json %s/b.json", h.quote(dir), h.quote(dir)))
      local _, errs = definitions.load_all { dir }
      assert.equal(2, #errs)
      assert.matches("Too many levels of symbolic links", errs[1].reason)
    end)

    it("reports a directory named like a definition inside a directory argument", function()
      os.execute("mkdir " .. h.quote(dir .. "/odd.json"))
      local _, errs = definitions.load_all { dir }
      assert.matches("Is a directory", errs[1].reason)
    end)

    it("reports a FIFO without blocking on it", function()
      os.execute("mkfifo " .. h.quote(dir .. "/pipe.json"))
      local _, errs = definitions.load_all { dir .. "/pipe.json" }
      assert.matches("not a regular file", errs[1].reason)
    end)

    it("reports an unreadable file and sends nothing", function()
      h.write(dir .. "/secret.json", '{"queue_id": "x"}')
      os.execute("chmod 000 " .. h.quote(dir .. "/secret.json"))
      if sys.getuid() ~= 0 then
        local _, errs = definitions.load_all { dir .. "/secret.json" }
        assert.matches("Permission denied", errs[1].reason)
        return
      end
      -- root reads any file: meet it as an ordinary user (nobody) would
      local nobody = { "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups" }
      if h.run({ "--version" }, { prefix = nobody }).status ~= 0 then
        pending("the build tree is not reachable by the user nobody")
        return
      end
      os.execute("chmod 755 " .. h.quote(dir))
      local r = h.run({ "queue-sync", "--sandbox", "--sandbox-state", dir .. "/state.json", dir .. "/secret.json" },
        { prefix = nobody, env = { HOME = dir } })
      assert.equal(2, r.status)
      assert.matches("secret%.json: Permission denied", r.stderr)
      assert.matches("nothing was sent", r.stderr)
    end)

    it("rejects the same queue_id in two files, naming both", function()
      h.write(dir .. "/a.json", '{"queue_id": "' .. Q1 .. '"}')
      h.write(dir .. "/b.json", '{"queue_id": "' .. Q1 .. '"}')
      local defs, errs = definitions.load_all { dir }
      assert.equal(1, #defs)
      assert.equal(dir .. "/b.json", errs[1].file)
      assert.matches("already defined by .*a%.json", errs[1].reason)
    end)

    it("rejects the same queue name (in any case) in two files without queue_id", function()
      h.write(dir .. "/a.json", '{"name": "Billing"}')
      h.write(dir .. "/b.json", '{"name": "BILLING"}')
      local defs, errs = definitions.load_all { dir }
      assert.equal(1, #defs)
      assert.equal("name", errs[1].field)
      assert.matches("queue BILLING is already defined by .*a%.json", errs[1].reason)
    end)
  end)
end)
