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

-- The bundled scripts, as gcrun --list names them.
local function bundled_scripts()
  local names = {}
  for name in h.run({ "--list" }).stdout:gmatch("([^%s]+)[^\n]*\n") do names[#names + 1] = name end
  assert.is_true(#names >= 3)
  return names
end

describe("bash completion", function()
  it("completes script names", function()
    assert.same({ "queue-export", "queue-rollback", "queue-sync" }, complete { "queue-" })
  end)

  it("completes a script's options, common ones given before its name included", function()
    assert.same({ "--dry-run" }, complete { "queue-sync", "--dry" })
    assert.same({ "--report" }, complete { "--sandbox", "queue-sync", "--rep" })
    assert.same({}, complete { "sandbox", "--regi" })
  end)

  it("completes the newer options: sandbox settings, --profile, --debug", function()
    for _, o in ipairs { "--rate", "--latency", "--profile", "--debug", "--sandbox-state", "--cacert" } do
      assert.same({ o }, complete { "queue-sync", o }, o)
    end
    for _, o in ipairs { "--queue-lag", "--id-seed", "--member-lag", "--flow-locks", "--token-ttl" } do
      assert.same({ o }, complete { "sandbox", o }, o)
    end
  end)

  it("completes an option's choices", function()
    assert.same({ "html", "json", "md" }, complete { "queue-sync", "--format", "" })
    assert.same({ "platform", "tutorial" }, complete { "--api", "" })
  end)

  it("offers exactly the options each --help lists", function()
    assert.same(help_options { "--help" }, long_only(complete { "--" }))
    for _, name in ipairs(bundled_scripts()) do
      local offered = long_only(complete { name, "--" })
      assert.same(help_options { name, "--help" }, offered, name)
    end
  end)
end)

-- The manual's source with the roff escapes of hyphens undone.
local function manual()
  return (h.read(h.srcdir .. "/doc/gcrun.1"):gsub("\\%-", "-"))
end

-- The part of the manual about one script: from the line that names it
-- (`.B gcrun NAME`) to the next section or the next script.
local function manual_part(man, name)
  local from = man:find("\n%.B gcrun " .. name:gsub("%p", "%%%0") .. "[%s\n]")
  assert.is_not_nil(from, "the manual has no part about " .. name)
  local to = man:find("\n%.SH ", from + 1) or #man
  local next_script = man:find("\n%.TP\n%.B gcrun ", from + 1)
  if next_script and next_script < to then to = next_script end
  return man:sub(from, to)
end

local function mentions(text, option)
  return text:find(option:gsub("%p", "%%%0") .. "[^%w%-]") ~= nil
end

describe("the manual (doc/gcrun.1)", function()
  it("lists every option of gcrun --help under OPTIONS", function()
    local man = manual()
    local options = man:match("\n%.SH OPTIONS\n(.-)\n%.SH ")
    for _, o in ipairs(help_options { "--help" }) do
      assert.is_true(mentions(options, o), "gcrun(1) OPTIONS does not list " .. o)
    end
  end)

  it("lists every option of every bundled script where it describes that script", function()
    local man = manual()
    for _, name in ipairs(bundled_scripts()) do
      local r = h.run { name, "--help" }
      local own = r.stdout:match("\noptions:\n(.-)\n[%a ]+:\n") or r.stdout:match("\noptions:\n(.*)$")
      local part = manual_part(man, name)
      local n = 0
      for line in own:gmatch("[^\n]+") do
        local o = line:match("^  [%-%a, ]-(%-%-[%w%-]+)")
        if o then
          n = n + 1
          assert.is_true(mentions(part, o), "gcrun(1) does not list " .. o .. " in its part about " .. name)
        end
      end
      assert.is_true(n > 0, name)
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
