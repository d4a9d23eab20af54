-- What `make install` puts where, and the bash completion it installs,
-- driven the way bash drives it.
local h = require "tests.helpers"

local BUILDDIR = h.bin:match("^(.*)/[^/]+$")
local COMPLETION = h.srcdir .. "/contrib/bash-completion/gcrun"

-- The words bash would offer after typing `words` (the last one is the
-- word being completed).
local function complete(words)
  local quoted = {}
  for i, w in ipairs(words) do quoted[i] = h.quote(w) end
  local script = string.format(
    "source %s; COMP_WORDS=(%s %s); COMP_CWORD=%d; _gcrun; printf '%%s\\n' \"${COMPREPLY[@]}\"",
    h.quote(COMPLETION), h.quote(h.bin), table.concat(quoted, " "), #words)
  local r = h.run({ "-c", script }, { bin = "bash" })
  assert.equal(0, r.status, r.stderr)
  local out = {}
  for l in r.stdout:gmatch("[^\n]+") do out[#out + 1] = l end
  table.sort(out)
  return out
end

-- The long options a --help text lists.
local function help_options(args)
  local r = h.run(args)
  local names = {}
  for name in r.stdout:gmatch("\n  [%-%a, ]-(%-%-[%w%-]+)") do names[#names + 1] = name end
  table.sort(names)
  return names
end

local function long_only(list)
  local out = {}
  for _, w in ipairs(list) do if w:match("^%-%-") then out[#out + 1] = w end end
  return out
end

describe("bash completion", function()
  it("completes script names", function()
    assert.same({ "queue-export", "queue-sync" }, complete { "queue-" })
  end)

  it("completes a script's options, common ones given before its name included", function()
    assert.same({ "--dry-run" }, complete { "queue-sync", "--dry" })
    assert.same({ "--report" }, complete { "--sandbox", "queue-sync", "--rep" })
    assert.same({}, complete { "sandbox", "--regi" })
  end)

  it("completes an option's choices", function()
    assert.same({ "html", "json", "md" }, complete { "queue-sync", "--format", "" })
    assert.same({ "platform", "tutorial" }, complete { "--api", "" })
  end)

  it("offers exactly the options each --help lists", function()
    assert.same(help_options { "--help" }, long_only(complete { "--" }))
    for _, name in ipairs { "queue-sync", "sandbox", "queue-export" } do
      local offered = long_only(complete { name, "--" })
      assert.same(help_options { name, "--help" }, offered, name)
    end
  end)
end)

describe("make install", function()
  it("puts the man page where man finds it and the completion where bash-completion loads it", function()
    local dest = h.tmpdir()
    local prefix = h.read(BUILDDIR .. "/Makefile"):match("\nprefix = ([^\n]*)")
    local make = "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C " .. h.quote(BUILDDIR)
    local ok = os.execute(make .. " install DESTDIR=" .. h.quote(dest) .. " >/dev/null")
    assert.is_true(ok, "make install failed")
    local root = dest .. prefix
    -- man looks in PREFIX/share/man for a PREFIX/bin on the PATH
    local r = h.run({ "-w", "gcrun" }, { bin = "man", env = { MANPATH = false,
      PATH = root .. "/bin:/usr/bin:/bin" } })
    assert.equal(0, r.status, r.stderr)
    assert.equal(root .. "/share/man/man1/gcrun.1\n", r.stdout)
    r = h.run({ "-w", "gcrun" }, { bin = "man", env = { MANPATH = root .. "/share/man" } })
    assert.equal(root .. "/share/man/man1/gcrun.1\n", r.stdout)
    -- bash-completion loads DATADIR/bash-completion/completions/NAME on demand
    assert.equal(h.read(COMPLETION), h.read(root .. "/share/bash-completion/completions/gcrun"))
    assert.is_true(os.execute(make .. " uninstall DESTDIR=" .. h.quote(dest) .. " >/dev/null"))
    local left = io.popen("find " .. h.quote(dest) .. " -type f"):read("a")
    assert.equal("", left)
    h.rmtree(dest)
  end)
end)
