-- gcrun queue-export: write the org's queues as definition files, in the
-- format queue-sync reads, so that exporting and syncing back changes
-- nothing. It reads through the same engine pieces as queue-sync (the
-- platform dialect's paging, members and agents readers).
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
local function file_name(q, used)
  local base = q.name:lower():gsub("[^%w]+", "-"):gsub("^%-+", ""):gsub("%-+$", "")
  if base == "" then base = "queue" end
  local name = base
  if used[name] then name = base .. "-" .. q.id:sub(1, 8) end
  used[name] = true
  return name .. ".json"
end

local function main(opts)
  if session.dialect() ~= "platform" then
    errors.raise("usage", "queue-export reads queues through the Platform API; drop --api tutorial")
  end
  local out = opts.out
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
  local used = {}
  local names = {}
  for i, q in ipairs(queues) do names[i] = file_name(q, used) end
  local _, errs = http.parallel(queues, function(q, i)
    local members = api:members(q.id)
    local ids = {}
    for _, m in ipairs(members) do ids[#ids + 1] = m.id end
    local def, unsupported = mapping.definition(q, members, #ids > 0 and api:agents(ids) or {})
    if unsupported then
      log.warn(string.format("%s: wrapupPrompt %s has no definition equivalent; exported as %s", q.name,
        unsupported, def.wrap_up_policy))
    end
    local path = out .. "/" .. names[i]
    local ok, err = sys.write_atomic(path, json.encode(def, { pretty = true }) .. "\n")
    if not ok then errors.raise("export", "cannot write %s", err) end
    log.info(string.format("  %s -> %s", q.name, path))
  end, { concurrency = defaults.export_fanout })
  for _, e in pairs(errs) do error(e, 0) end
  log.info(string.format("queue-export: %s written to %s", text.plural(#queues, "definition"), out))
  return 0
end

return {
  description = "Write the org's queues as queue definition files (export, then sync, changes nothing)",
  usage = "--out DIR",
  common = { "connection" },   -- it only reads the org: --dry-run would change nothing
  options = {
    { "out=DIR", "directory to write the definition files to", default = "queues" },
    { "name=PATTERN", "only queues whose name starts with PATTERN (* matches anything)" },
  },
  main = main,
}
