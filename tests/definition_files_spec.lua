-- Definition files as a person meets them: what gcrun says about a file
-- (on stderr, also under --quiet, and in every report), ids written in
-- another case, and files that are not what they should be.
local definitions = require "gcrun.definitions"
local h = require "tests.helpers"
local json = require "gcrun.json"

local Q1 = "8b5a7400-cca4-4239-9271-5e22c8399ed5"   -- Billing & Payments in the example org
local Q2 = "2c6e3a1f-0d4b-4e8a-9f1c-7b5d3e2a9c40"

describe("warnings about a definition file", function()
  local dir

  before_each(function() dir = h.tmpdir() end)
  after_each(function() h.rmtree(dir) end)

  local function dry_run(args)
    local full = { "queue-sync", "--sandbox", "--sandbox-state", dir .. "/state.json", "--dry-run" }
    for _, a in ipairs(args) do full[#full + 1] = a end
    return h.run(full)
  end

  it("are printed under --quiet and kept in the JSON, Markdown and HTML reports", function()
    local file = h.write(dir .. "/billing.json", json.encode { queue_id = Q1, nmae = "Billing", memebrs = {} })
    for _, format in ipairs { "json", "md", "html" } do
      local report = dir .. "/plan." .. format
      local r = dry_run { "-q", "--report", report, file }
      assert.equal(0, r.status, r.stderr)
      assert.matches("billing%.json: unknown key 'nmae' is ignored %(did you mean 'name'%?%)", r.stderr)
      assert.matches("billing%.json: unknown key 'memebrs' is ignored %(did you mean 'members'%?%)", r.stderr)
      local text = h.read(report)
      if format == "json" then
        local doc = json.decode(text)
        assert.same({ "unknown key 'memebrs' is ignored (did you mean 'members'?)",
          "unknown key 'nmae' is ignored (did you mean 'name'?)" }, doc.changes[1].warnings)
      else
        assert.matches("unknown key 'nmae' is ignored %(did you mean 'name'%?%)", text)
        assert.matches("unknown key 'memebrs' is ignored %(did you mean 'members'%?%)", text)
      end
    end
  end)

  it("are an empty list for a queue whose file has none", function()
    local file = h.write(dir .. "/billing.json", json.encode { queue_id = Q1, description = "Billing" })
    local r = dry_run { "--report", dir .. "/plan.json", file }
    assert.equal(0, r.status, r.stderr)
    local doc = json.decode(h.read(dir .. "/plan.json"))
    assert.same({}, doc.changes[1].warnings)
    assert.equal("", r.stderr:match("unknown key") or "")
  end)

  it("stay with a file skipped for its errors (--keep-going)", function()
    h.write(dir .. "/bad.json", json.encode { queue_id = Q1, descripton = "x", acw_timeout = -1 })
    local good = h.write(dir .. "/good.json", json.encode { name = "Claims" })
    local r = dry_run { "--keep-going", "--report", dir .. "/plan.json", dir .. "/bad.json", good }
    assert.equal(1, r.status, r.stderr)
    local doc = json.decode(h.read(dir .. "/plan.json"))
    assert.equal(dir .. "/bad.json", doc.skipped_files[1].file)
    assert.same({ "unknown key 'descripton' is ignored (did you mean 'description'?)" },
      doc.skipped_files[1].warnings)
    assert.same({}, doc.changes[1].warnings)
  end)

  it("include an agent's skill asked at two levels, with each of the two files' queues", function()
    local a = h.write(dir .. "/a.json", json.encode { queue_id = Q1,
      members = { ["ada.lovelace1@example.com"] = 1 }, skills = { Billing = 2 } })
    local b = h.write(dir .. "/b.json", json.encode { name = "Sales",
      members = { ["ada.lovelace1@example.com"] = 1 }, skills = { Billing = 4 } })
    local r = dry_run { "-q", "--report", dir .. "/plan.json", a, b }
    assert.equal(0, r.status, r.stderr)
    local message = string.format("agent Ada Lovelace %%(%%x+%%) gets skill Billing at levels 2 from %s, 4 from %s: "
      .. "4 is used for all", (a:gsub("%p", "%%%0")), (b:gsub("%p", "%%%0")))
    assert.matches(message, r.stderr)
    local doc = json.decode(h.read(dir .. "/plan.json"))
    for i = 1, 2 do
      assert.equal(1, #doc.changes[i].warnings)
      assert.matches("^" .. message .. "$", doc.changes[i].warnings[1])
    end
  end)

  it("include a removal another file's skill wins over, with both files' queues", function()
    -- Billing's members (Ada among them) get French first
    local first = h.write(dir .. "/first.json", json.encode { queue_id = Q1, skills = { French = 2 } })
    local r = h.run { "queue-sync", "--sandbox", "--sandbox-state", dir .. "/state.json", "--report",
      dir .. "/first-report.json", first }
    assert.equal(0, r.status, r.stderr)
    local a = h.write(dir .. "/a.json", json.encode { queue_id = Q1, skills = { French = 0 } })
    local b = h.write(dir .. "/b.json", json.encode { name = "Sales",
      members = { ["ada.lovelace1@example.com"] = 1 }, skills = { French = 3 } })
    r = dry_run { "-q", "--report", dir .. "/plan.json", a, b }
    assert.equal(0, r.status, r.stderr)
    local message = string.format("agent Ada Lovelace %%(%%x+%%) gets skill French at levels 3 from %s, removed by %s: "
      .. "3 is used for all", (b:gsub("%p", "%%%0")), (a:gsub("%p", "%%%0")))
    assert.matches(message, r.stderr)
    local doc = json.decode(h.read(dir .. "/plan.json"))
    for i = 1, 2 do assert.matches("^" .. message .. "$", doc.changes[i].warnings[1]) end
  end)

  it("found after reading are kept with the definition, at most MAX_WARNINGS, then counted", function()
    local def = definitions.parse(json.encode { queue_id = Q1, nmae = "x" }, "q.json")
    for i = 1, definitions.MAX_WARNINGS + 5 do definitions.add_warning(def, "w" .. i) end
    assert.equal(definitions.MAX_WARNINGS + 1, #def.warnings)
    assert.equal("unknown key 'nmae' is ignored (did you mean 'name'?)", def.warnings[1])
    assert.equal("w" .. (definitions.MAX_WARNINGS - 1), def.warnings[definitions.MAX_WARNINGS])
    assert.equal("6 more warnings", def.warnings[#def.warnings])
    -- a definition without warnings of its own shares no table with another
    local d1, d2 = definitions.parse(json.encode { queue_id = Q1 }, "a.json"),
      definitions.parse(json.encode { name = "B" }, "b.json")
    definitions.add_warning(d1, "only a")
    assert.same({ "only a" }, d1.warnings)
    assert.same({}, d2.warnings)
  end)

  it("come from load_all with the file they are about", function()
    h.write(dir .. "/a.json", json.encode { queue_id = Q1, nmae = "x" })
    local defs, errs, warnings = definitions.load_all { dir }
    assert.equal(0, #errs)
    assert.same({ "unknown key 'nmae' is ignored (did you mean 'name'?)" }, defs[1].warnings)
    assert.equal(dir .. "/a.json", warnings[1].file)
    assert.equal(dir .. "/a.json: unknown key 'nmae' is ignored (did you mean 'name'?)",
      definitions.format_error(warnings[1]))
  end)
end)

describe("queue ids in definition files", function()
  local dir

  before_each(function() dir = h.tmpdir() end)
  after_each(function() h.rmtree(dir) end)

  it("are read in the API's lower case, whatever case the file writes", function()
    local def = definitions.parse(json.encode { queue_id = Q1:upper() }, "q.json")
    assert.equal(Q1, def.queue_id)
  end)

  it("say so when white space surrounds an id", function()
    local def, c = definitions.parse(json.encode { queue_id = " " .. Q1:upper() .. " " }, "q.json")
    assert.is_nil(def)
    assert.equal("queue_id", c.errors[1].field)
    assert.equal("has white space around the id; write " .. Q1, c.errors[1].reason)
  end)

  it("find two files defining one queue in different letter case, and say so", function()
    h.write(dir .. "/a.json", json.encode { queue_id = Q1 })
    h.write(dir .. "/b.json", json.encode { queue_id = Q1:upper() })
    local defs, errs = definitions.load_all { dir }
    assert.equal(1, #defs)
    assert.equal(1, #errs)
    assert.equal(dir .. "/b.json", errs[1].file)
    assert.equal("queue_id", errs[1].field)
    assert.equal(string.format("queue %s is already defined by %s/a.json as %s (an id is the same in upper and "
      .. "lower case)", Q1:upper(), dir, Q1), errs[1].reason)
  end)

  it("sync the queue the org knows when the file writes its id in upper case", function()
    local file = h.write(dir .. "/billing.json", json.encode { queue_id = Q1:upper(), description = "Upper" })
    local r = h.run { "queue-sync", "--sandbox", "--sandbox-state", dir .. "/state.json", "--report",
      dir .. "/report.json", file }
    assert.equal(0, r.status, r.stderr)
    local doc = json.decode(h.read(dir .. "/report.json"))
    assert.equal("updated", doc.changes[1].status)
    assert.equal(Q1, doc.changes[1].queue_id)
  end)
end)

describe("queue-export's file names", function()
  local dir, sb

  before_each(function() dir = h.tmpdir() end)
  after_each(function()
    if sb then sb.stop() end
    h.rmtree(dir)
  end)

  it("stay short and distinct for long names and names whose slugs collide", function()
    local org = json.decode(h.read(h.srcdir .. "/examples/sandbox-org.json"))
    local template = org.queues[1]
    local names = { string.rep("a", 5000), string.rep("a", 5000) .. "b", string.rep("a", 251), "A B", "a-b", "a_b" }
    local ids = { "00000000-0000-4000-8000-0000000000a1", "00000000-0000-4000-8000-0000000000a2",
      "00000000-0000-4000-8000-0000000000a3", "11111111-0000-4000-8000-000000000001",
      "11111111-0000-4000-8000-000000000002", "11111111-0000-4000-8000-000000000003" }
    for i, name in ipairs(names) do
      local q = json.decode(json.encode(template))
      q.id, q.name = ids[i], name
      org.queues[#org.queues + 1] = q
    end
    h.write(dir .. "/org.json", json.encode(org))
    sb = h.sandbox { org = dir .. "/org.json" }
    local out = dir .. "/export"
    local r = sb.run { "queue-export", "--out", out }
    assert.equal(0, r.status, r.stderr)
    local files = require("gcrun.sys").dir(out)
    assert.equal(#org.queues, #files)
    local exported = {}
    for _, f in ipairs(files) do
      assert.is_true(#f <= 100, f)
      local def = json.decode(h.read(out .. "/" .. f))
      assert.is_nil(exported[def.name], def.name)
      exported[def.name] = f
    end
    for _, name in ipairs(names) do assert.truthy(exported[name], name:sub(1, 20)) end
    assert.equal("a-b.json", exported["A B"])
    assert.equal("a-b-11111111.json", exported["a-b"])
    assert.equal("a-b-11111111-2.json", exported["a_b"])
    -- the names are stable: a second export finds every file as it would write it
    r = sb.run { "queue-export", "--out", out }
    assert.equal(0, r.status, r.stderr)
    assert.matches("0 definitions written .- %(" .. #org.queues .. " unchanged%)", r.stdout .. r.stderr)
  end)
end)

describe("definition files that are not what they should be", function()
  local dir
  local sys = require "gcrun.sys"

  before_each(function() dir = h.tmpdir() end)
  after_each(function()
    os.execute("chmod -R u+rwx " .. h.quote(dir))
    h.rmtree(dir)
  end)

  local function parse(bytes) return definitions.parse(bytes, "q.json") end

  it("a list at the top level: the file must hold a JSON object", function()
    for _, text in ipairs { "[]", " [ ]\n", '[{"queue_id": "' .. Q1 .. '"}]', '"x"' } do
      local def, c = parse(text)
      assert.is_nil(def, text)
      assert.equal(1, #c.errors, text)
      assert.equal("", c.errors[1].field)
      assert.matches("^must hold a JSON object {...} %(the queue definition%), got ", c.errors[1].reason)
    end
    assert.matches("got a list$", select(2, parse("[]")).errors[1].reason)
  end)

  it("UTF-16 text, with or without its byte order mark, is named so", function()
    local json_text = '{"queue_id": "' .. Q1 .. '"}'
    local le, be = {}, {}
    for ch in json_text:gmatch(".") do le[#le + 1] = ch .. "\0"; be[#be + 1] = "\0" .. ch end
    for _, bytes in ipairs { "\255\254" .. table.concat(le), table.concat(le), "\254\255" .. table.concat(be),
        table.concat(be) } do
      local def, c = parse(bytes)
      assert.is_nil(def)
      assert.equal("looks like UTF-16 (or UTF-32) text; save the file as UTF-8", c.errors[1].reason)
    end
  end)

  it("a UTF-8 byte order mark is skipped", function()
    local def, c = parse("\239\187\191" .. json.encode { queue_id = Q1, description = "with a BOM" })
    assert.same({}, c.errors)
    assert.equal("with a BOM", def.description)
  end)

  it("a file given twice, or as itself and in its directory, is read once", function()
    h.write(dir .. "/a.json", json.encode { queue_id = Q1 })
    os.execute("ln -s a.json " .. h.quote(dir .. "/link.json"))
    local defs, errs = definitions.load_all { dir .. "/a.json", dir .. "/./a.json", dir }
    assert.same({}, errs)
    assert.equal(1, #defs)
    assert.equal(dir .. "/a.json", defs[1].file)
  end)

  -- load_all resolves a directory once and its entries by name (links each)
  it("a directory reached through a link, its files by their real path and links among them: each file once", function()
    os.execute("mkdir " .. h.quote(dir .. "/real"))
    h.write(dir .. "/real/a.json", json.encode { queue_id = Q1 })
    h.write(dir .. "/b.json", json.encode { queue_id = Q2 })
    os.execute("ln -s real " .. h.quote(dir .. "/via"))
    os.execute("ln -s ../b.json " .. h.quote(dir .. "/real/to_b.json"))
    local defs, errs = definitions.load_all { dir .. "/b.json", dir .. "/real/a.json", dir .. "/via/" }
    assert.same({}, errs)
    assert.same({ dir .. "/b.json", dir .. "/real/a.json" }, { defs[1].file, defs[2].file })
    assert.equal(2, #defs)
  end)

  it("in a directory, files named as gcrun's reports are skipped, others with report in the name are read", function()
    h.write(dir .. "/queue_plan_report.json", json.encode { queue_id = Q1 })
    h.write(dir .. "/sales_report.json", json.encode { queue_id = Q2 })
    local defs, errs, warnings = definitions.load_all { dir }
    assert.same({}, errs)
    assert.same({ dir .. "/sales_report.json" }, { defs[1] and defs[1].file, defs[2] and defs[2].file })
    assert.matches("named as gcrun's reports are: skipped", warnings[1].reason, 1, true)
  end)

  it("a directory that cannot be read says so, with the reason", function()
    os.execute("mkdir " .. h.quote(dir .. "/queues"))
    h.write(dir .. "/queues/a.json", json.encode { queue_id = Q1 })
    os.execute("chmod 300 " .. h.quote(dir .. "/queues"))   -- may be entered, not listed
    if sys.getuid() ~= 0 then
      local _, errs = definitions.load_all { dir .. "/queues" }
      assert.equal("cannot read the directory: Permission denied", errs[1].reason)
      return
    end
    -- root reads any directory: meet it as an ordinary user (nobody) would
    local nobody = { "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups" }
    if h.run({ "--version" }, { prefix = nobody }).status ~= 0 then
      pending("the build tree is not reachable by the user nobody")
      return
    end
    os.execute("chmod 755 " .. h.quote(dir))
    local r = h.run({ "queue-sync", "--sandbox", "--sandbox-state", dir .. "/state.json", dir .. "/queues" },
      { prefix = nobody, env = { HOME = dir } })
    assert.equal(2, r.status)
    assert.matches("queues: cannot read the directory: Permission denied", r.stderr)
  end)

  it("a queue never started has a timestamp in the report", function()
    local def = definitions.parse(json.encode { queue_id = Q1 }, "q.json")
    local run = { queues = { require("gcrun.result").queue(def) }, started_at = 1000, finished_at = 1060,
      status = "interrupted" }
    local doc = require("gcrun.report").document(run)
    assert.equal("not_started", doc.changes[1].status)
    assert.equal(doc.generated_at, doc.changes[1].timestamp)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT", doc.changes[1].timestamp)
  end)
end)
