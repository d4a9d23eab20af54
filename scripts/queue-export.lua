-- gcrun queue-export: write the org's queues as definition files, in the
-- format queue-sync reads, so that exporting and syncing back changes
-- nothing. Names are written beside ids (members with their name and
-- email, skills with their name, the division by name); --portable writes
-- names only, so the files can be synced into another org where the same
-- names have other ids. A file that exists and differs from what would be
-- written is refused (nothing is written) unless --force. It reads through
-- the same engine pieces as queue-sync (the platform dialect's paging,
-- members, agents and skills readers).
local api_of = require "gcrun.api"
local defaults = require "gcrun.defaults"
local errors = require "gcrun.errors"
local http = require "gcrun.http"
local json = require "gcrun.json"
local log = require "gcrun.log"
local mapping = require "gcrun.mapping"
local session = require "gcrun.session"
local sys = require "gcrun.sys"
local text = require "gcrun.text"

-- A file name from a queue name: lower case, dashes, unique in the run.
-- A long name is cut to SLUG_MAX bytes and marked with a hash of the whole
-- name (file names end at 255 bytes; two names alike in their first
-- SLUG_MAX bytes still get two files). Names whose slugs collide ("A B",
-- "a-b") get the queue id's first 8 digits, then a number.
local SLUG_MAX = 80

-- FNV-1a, 32 bits: a short, stable mark of a name (the same in every org)
local function hash(s)
  local h = 2166136261
  for i = 1, #s do h = ((h ~ s:byte(i)) * 16777619) & 0xffffffff end
  return string.format("%08x", h)
end

local function file_name(q, used)
  local base = q.name:lower():gsub("[^%w]+", "-"):gsub("^%-+", ""):gsub("%-+$", "")
  if base == "" then base = "queue" end
  if #base > SLUG_MAX then base = base:sub(1, SLUG_MAX):gsub("%-+$", "") .. "-" .. hash(q.name) end
  local name = base
  if used[name] then name = base .. "-" .. q.id:sub(1, 8):lower() end
  local n = 1
  while used[name] do
    n = n + 1
    name = string.format("%s-%s-%d", base, q.id:sub(1, 8):lower(), n)
  end
  used[name] = true
  return name .. ".json"
end

local function main(opts)
  if session.dialect() ~= "platform" then
    errors.raise("usage", "queue-export reads queues through the Platform API; drop --api tutorial")
  end
  local out = opts.out:gsub("(.)/+$", "%1")   -- "dir/" names files dir/x.json, not dir//x.json
  local st = sys.stat(out)
  if st and st.type ~= "directory" then errors.raise("usage", "--out %s exists and is not a directory", out) end
  if not st then
    local ok, err = sys.mkdir_p(out)
    if not ok then errors.raise("usage", "cannot create %s", err) end
  end
  local api = api_of.new("platform", session.client { concurrency = defaults.connections }):scope()
  local queues = api:pages("/api/v2/routing/queues", nil, { name = opts.name }, "GET queues")
  if #queues == 0 then
    log.warn(opts.name and string.format("no queue's name matches '%s'", opts.name) or "the org has no queues")
    return 0
  end
  api:prepare()   -- the org's skills, for their names
  local used = {}
  local names = {}
  for i, q in ipairs(queues) do names[i] = file_name(q, used) end
  -- every file made first: a refusal writes nothing
  local texts, errs = http.parallel(queues, function(q)
    local members = api:members(q.id)
    local ids = {}
    for _, m in ipairs(members) do ids[#ids + 1] = m.id end
    local def, unsupported, anonymous = mapping.definition(q, members, #ids > 0 and api:agents(ids) or {},
      { skills = api:skills(), portable = opts.portable })
    if unsupported then
      log.warn(string.format("%s: wrapupPrompt %s has no definition equivalent; exported as %s", q.name,
        unsupported, def.wrap_up_policy))
    end
    if #anonymous > 0 then
      log.warn(string.format("%s: %s no email or username; exported by id, which another org does not know",
        q.name, text.plural(#anonymous, "member has", "members have")))
    end
    return json.encode(def, { pretty = true, sort = true }) .. "\n"
  end, { concurrency = defaults.export_fanout })
  for _, e in pairs(errs) do error(e, 0) end
  local differ, same = {}, {}
  for i in ipairs(queues) do
    local path = out .. "/" .. names[i]
    local old = sys.stat(path) and sys.read(path, 16 * 1024 * 1024)
    if old == texts[i] then same[i] = true elseif old and not opts.force then differ[#differ + 1] = path end
  end
  if #differ > 0 then
    errors.raise("usage", "%s would be overwritten with other content: %s; nothing was written (--force overwrites)",
      text.plural(#differ, "file", "files"), table.concat(differ, ", "))
  end
  local written = 0
  for i, q in ipairs(queues) do
    local path = out .. "/" .. names[i]
    if not same[i] then
      local ok, err = sys.write_atomic(path, texts[i])
      if not ok then errors.raise("export", "cannot write %s", err) end
      written = written + 1
    end
    -- results, on stdout (the warnings and errors go to stderr)
    log.event(1, "queue", string.format("  %s -> %s%s", q.name, path, same[i] and " (unchanged)" or ""),
      { queue_id = q.id, queue_name = q.name, file = path, status = same[i] and "unchanged" or "written" })
  end
  log.event(0, "summary", string.format("queue-export: %s written to %s%s", text.plural(written, "definition"), out,
    written < #queues and string.format(" (%d unchanged)", #queues - written) or ""),
    { written = written, unchanged = #queues - written, out = out })
  return 0
end

return {
  description = "Write the org's queues as queue definition files (export, then sync, changes nothing)",
  usage = "--out DIR",
  common = { "connection" },   -- it only reads the org: --dry-run would change nothing
  options = {
    { "out=DIR", "directory to write the definition files to", default = "queues" },
    { "name=PATTERN", "only queues whose name starts with PATTERN (* matches anything)" },
    { "portable", "names only, no ids: files another org (same names, other ids) can be synced with" },
    { "force", "overwrite files that differ from what the export writes" },
  },
  main = main,
}
