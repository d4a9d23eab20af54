-- Shared test helpers: running gcrun as a user would, temporary
-- directories, files. Specs require it as "tests.helpers".
local sys = require "gcrun.sys"

local M = {}

M.bin = os.getenv("GCRUN_BIN") or sys.realpath("/proc/self/exe")
M.srcdir = os.getenv("GCRUN_SRCDIR") or sys.realpath(".")

function M.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

function M.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function M.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

function M.tmpdir()
  return assert(sys.mkdtemp("gcrun-test"))
end

function M.rmtree(dir)
  if dir and dir:match("^/tmp/") or (dir and dir:match("gcrun%-test")) then
    os.execute("rm -rf " .. M.quote(dir))
  end
end

-- run(args, {env=, cwd=, stdin=}) -> {status=, stdout=, stderr=}
-- Runs the gcrun binary in a shell, as a user would.
function M.run(args, opts)
  opts = opts or {}
  local dir = M.tmpdir()
  local parts = {}
  if opts.cwd then parts[#parts + 1] = "cd " .. M.quote(opts.cwd) .. " &&" end
  parts[#parts + 1] = "env"
  local sets = {}
  for k, v in pairs(opts.env or {}) do
    if v == false then parts[#parts + 1] = "-u " .. k else sets[#sets + 1] = k .. "=" .. M.quote(v) end
  end
  table.move(sets, 1, #sets, #parts + 1, parts)
  parts[#parts + 1] = M.quote(opts.bin or M.bin)
  for _, a in ipairs(args) do parts[#parts + 1] = M.quote(a) end
  local cmd = table.concat(parts, " ")
  if opts.stdin then cmd = cmd .. " < " .. M.quote(M.write(dir .. "/stdin", opts.stdin)) end
  cmd = cmd .. " > " .. dir .. "/out 2> " .. dir .. "/err"
  local _, _, status = os.execute(cmd)
  local r = { status = status, stdout = M.read(dir .. "/out"), stderr = M.read(dir .. "/err"), cmd = cmd }
  M.rmtree(dir)
  return r
end

return M
