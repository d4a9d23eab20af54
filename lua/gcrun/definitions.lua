-- Queue definition files: the tutorial's flat JSON plus gcrun's
-- extensions, read and checked before anything is sent.
--
-- A key a file leaves out is not managed: its field is nil here and the
-- org keeps its value (absent = untouched); an explicit empty value means
-- empty. The tutorial's defaults fill the absent keys only when asked
-- (opts.defaults == "tutorial", which the tutorial dialect implies).
-- References may be names (a queue by `name`, skills by name, members by
-- email or username, flows and division by name); gcrun.resolve turns them
-- into ids. A skill at level 0 (or null) is a removal (dropped under the
-- tutorial's defaults, as the tutorial drops it).
--
-- A problem the tutorial's correction rules cover (a duplicate member or
-- skill, an unknown wrap_up_policy) is not an error but a finding, handed
-- to the rules; anything else wrong is an error naming the file, the field
-- and the reason. Files are data: parsed as JSON, never run as Lua.
local json = require "gcrun.json"
local jsonscan = require "gcrun.jsonscan"
local report_files = require "gcrun.report_files"
local sys = require "gcrun.sys"
local text = require "gcrun.text"

local M = {}

M.MAX_FILE = 1024 * 1024   -- a definition is a few kilobytes; this is plenty
M.MAX_UNKNOWN_NAMED = 10   -- unknown keys warned about one by one
M.MAX_FINDINGS = 100       -- duplicates (and such) the rules correct in one file

-- The tutorial's defaults for fields a file leaves out.
M.DEFAULTS = {
  name = "Auto-Generated Queue", description = "Updated via automation", outbound_queue = false,
  wrap_up_policy = "required", acw_timer_required = true, acw_timeout = 300,
}

M.POLICIES = { required = true, optional = true, none = true }

M.KNOWN = { "queue_id", "name", "description", "outbound_queue", "skills", "members", "wrap_up_policy",
  "acw_timer_required", "acw_timeout", "flows", "queue", "division" }
local KNOWN = {}
for _, k in ipairs(M.KNOWN) do KNOWN[k] = true end

-- QueueRequest fields gcrun manages itself; `queue` may not set them.
local MANAGED = { name = "name", description = "description", acwSettings = "wrap_up_policy / acw_*" }

-- Ids are checked before they go into a URL path, where "." or ".." would
-- name another resource. A queue id has the API's shape, a UUID; a flow id
-- only letters, digits, - and _ (the tutorial's own flow is
-- "example-flow-id").
local UUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"
function M.is_id(s) return type(s) == "string" and s:match(UUID) ~= nil end

local function is_object(v) return type(v) == "table" and not json.is_array(v) end

-- One shared, never modified, empty table for the many definitions with
-- no `queue` extras and no findings.
local NOTHING = setmetatable({}, { __newindex = function() error("definitions are read-only here", 2) end })

-- A definition being checked: collects errors, findings and warnings.
local Checker = {}
Checker.__index = Checker

function Checker.error(c, field, fmt, ...)
  c.errors[#c.errors + 1] = { file = c.file, field = field, reason = string.format(fmt, ...) }
end

-- A warning is about the file as a whole (the report lists it with the
-- file's queue; load_all names the file on stderr).
function Checker.warn(c, fmt, ...)
  c.warnings[#c.warnings + 1] = string.format(fmt, ...)
end

-- A finding is a problem as gcrun.api.problems describes them (kind,
-- definition_field, entity, message), found in the file.
function Checker.find(c, p)
  p.source = "definition"
  c.findings[#c.findings + 1] = p
end

local function checker(file)
  return setmetatable({ file = file, errors = {}, findings = {}, warnings = {} }, Checker)
end

local function describe(v)
  if v == json.null then return "null" end
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "table" then
    if next(v) == nil then return "an empty list or object" end
    return json.is_array(v) and "a list" or "an object"
  end
  return tostring(math.tointeger(v) or v)
end

-- The checks of one entry's value; `where` names the field (built only
-- when there is something to report).
local function check_level(c, where, v)
  if v == json.null then return true end   -- null: remove the skill, as 0 does
  if type(v) ~= "number" or v ~= v or v < 0 or v > 5 then
    c:error(where(), "must be a skill level from 0 to 5, got %s", describe(v))
    return false
  end
  return true
end

local function check_priority(c, where, v)
  if not (type(v) == "number" and v == math.floor(v) and v >= 1 and v <= 6) then
    c:error(where(), "must be a priority (ring number) from 1 to 6, got %s", describe(v))
    return false
  end
  return true
end

-- skills / members as {id: value} or [{id=, <value_key>=}], in a stable
-- order (object keys sorted; arrays as written). Duplicate ids are kept
-- once, the first, and reported as findings.
local function entries(c, field, v, value_key, check, dups)
  local out, seen = {}, {}
  if v == nil then return out end
  -- two fields, so the table's hash part holds two (10,000 files hold many)
  local function entry(id, value, duplicate, label)
    if value == json.null then value = 0 end
    value = math.tointeger(value) or value
    local e = value_key == "level" and { id = id, level = value } or { id = id, priority = value }
    if duplicate then e.duplicate = true end
    -- the list form may name the entry beside its id (queue-export writes so)
    if label then e.label = label end
    return e
  end
  if is_object(v) then
    local ids = {}
    for id in pairs(v) do ids[#ids + 1] = id end
    table.sort(ids)
    -- one closure for all the entries (not one each: 10,000 files hold many)
    local id
    local function where() return field .. "." .. id end
    for _, each in ipairs(ids) do
      id = each
      -- a repeated key: cjson kept the last value; list the first, then the
      -- last marked as the duplicate the rules remove
      local first, last = v[id], nil
      if dups[id] ~= nil then first, last = dups[id], v[id] end
      if id == "" then
        c:error(field, "an empty id")
      elseif check(c, where, first) then
        out[#out + 1] = entry(id, first)
        if last ~= nil and check(c, where, last) then out[#out + 1] = entry(id, last, true) end
      end
    end
  elseif json.is_array(v) then
    for i, e in ipairs(v) do
      local function where(suffix) return string.format("%s[%d]%s", field, i, suffix or "") end
      if not is_object(e) then
        c:error(where(), "must be an object with id and %s, got %s", value_key, describe(e))
      elseif e.id == nil then
        c:error(where(".id"), "is missing")
      elseif type(e.id) ~= "string" or e.id == "" then
        c:error(where(".id"), "must be a non-empty string, got %s", describe(e.id))
      elseif e.name ~= nil and type(e.name) ~= "string" or e.email ~= nil and type(e.email) ~= "string" then
        c:error(where(".name"), "name and email must be strings beside the id")
      else
        local value = e[value_key]
        if value == nil and value_key == "priority" then value = 1 end
        if check(c, function() return where("." .. value_key) end, value) then
          if seen[e.id] then
            local what = field == "members" and "member" or "skill"
            c:find { kind = "duplicate-" .. what, id = e.id, entity = e.id, definition_field = field,
              message = string.format("Duplicate %s '%s' in %s", what, e.id, field) }
            out[#out + 1] = entry(e.id, value, true, e.name or e.email)
          else
            seen[e.id] = true
            out[#out + 1] = entry(e.id, value, false, e.name or e.email)
          end
        end
      end
    end
  else
    c:error(field, "must be an object {id: %s} or a list of {id, %s}, got %s", value_key, value_key, describe(v))
  end
  return out
end

local function check_utf8(c, bytes)
  local ok, bad = utf8.len(bytes)
  if ok then return true end
  local line = 1
  for _ in bytes:sub(1, bad - 1):gmatch("\n") do line = line + 1 end
  c:error("", "line %d: invalid UTF-8 at byte %d", line, bad)
  return false
end

-- parse(bytes, file [, opts]) -> definition | nil; plus the checker with
-- what it found. opts: {defaults = "tutorial" | nil, strict = true: unknown
-- keys are errors, not warnings, ids_only = true: a queue_id is required}
function M.parse(bytes, file, opts)
  opts = opts or {}
  local DEFAULTS = opts.defaults == "tutorial" and M.DEFAULTS or {}
  local c = checker(file)
  -- a UTF-8 byte order mark (some Windows editors write one) is skipped,
  -- as .env files' is
  if bytes:sub(1, 3) == "\239\187\191" then bytes = bytes:sub(4) end
  -- JSON text starts with "{" or white space: a NUL in the first two bytes,
  -- or a UTF-16 byte order mark, is text saved as UTF-16 (or UTF-32)
  if bytes:sub(1, 2):find("\0", 1, true) or bytes:sub(1, 2) == "\255\254" or bytes:sub(1, 2) == "\254\255" then
    c:error("", "looks like UTF-16 (or UTF-32) text; save the file as UTF-8")
    return nil, c
  end
  if not check_utf8(c, bytes) then return nil, c end
  local raw, err = json.decode_plain(bytes)
  if raw == nil then
    c:error("", "%sinvalid JSON: %s", err.line and string.format("line %d, column %d: ", err.line, err.column) or "",
      err.message)
    return nil, c
  end
  -- ([] decodes as an empty table, as {} does: its first byte tells them apart)
  local list = bytes:match("^%s*%[")
  if list or not is_object(raw) then
    c:error("", "must hold a JSON object {...} (the queue definition), got %s", list and "a list" or describe(raw))
    return nil, c
  end
  -- repeated keys: at the top level ambiguous (an error); inside members or
  -- skills a duplicate the rules correct (keep the first)
  local dups = { members = {}, skills = {} }
  for _, d in ipairs(jsonscan.duplicates(bytes)) do
    if d.parent == "" then
      c:error(d.key, "appears more than once (repeated at line %d, column %d); say it once", d.line, d.column)
    elseif dups[d.parent] and dups[d.parent][d.key] == nil then
      local first = d.first and json.decode(d.first)
      dups[d.parent][d.key] = first
      c:find { kind = d.parent == "members" and "duplicate-member" or "duplicate-skill", id = d.key,
        entity = d.key, definition_field = d.parent,
        message = string.format("Duplicate %s '%s' in %s (line %d)", d.parent == "members" and "member" or "skill",
          d.key, d.parent, d.line) }
    end
  end

  local def = { file = file }
  local unknown = {}
  for k in pairs(raw) do if not KNOWN[k] then unknown[#unknown + 1] = k end end
  table.sort(unknown)
  -- a few named, with a suggestion each; a hostile file's thousands counted
  for i, k in ipairs(unknown) do
    if i > M.MAX_UNKNOWN_NAMED then
      c:warn("%d more unknown keys are ignored", #unknown - M.MAX_UNKNOWN_NAMED)
      break
    end
    local near = text.closest(k, M.KNOWN)
    local hint = near and string.format(" (did you mean '%s'?)", near) or ""
    if opts.strict then
      c:error(text.shorten(k, 64), "is not a definition key%s (--strict)", hint)
    else
      c:warn("unknown key '%s' is ignored%s", text.shorten(k, 64), hint)
    end
  end

  local id = raw.queue_id
  if id == nil and opts.ids_only then
    c:error("queue_id", "is required with --api tutorial (its API finds queues by id only)")
  elseif id == "" or (id == nil and raw.name == nil) then
    c:error("queue_id", "is required when there is no name (the queue is found by its id, or by its name)")
  elseif id ~= nil and type(id) ~= "string" then
    c:error("queue_id", "must be a string, got %s", describe(id))
  elseif id ~= nil and not M.is_id(id) and M.is_id(id:match("^%s*(.-)%s*$")) then
    c:error("queue_id", "has white space around the id; write %s", id:match("^%s*(.-)%s*$"):lower())
  elseif id ~= nil and not M.is_id(id) then
    c:error("queue_id", "must be a queue id (a UUID such as 8b5a7400-cca4-4239-9271-5e22c8399ed5), got %s",
      describe(text.shorten(id, 64)))
  elseif id ~= nil and id ~= id:lower() then
    -- the API's ids are case-insensitive UUIDs it writes in lower case:
    -- one case, so the same queue is the same id everywhere in the run
    def.written_id = id
    id = id:lower()
  end
  def.queue_id = id

  local function string_field(name, max)
    local v = raw[name]
    if v == nil then return DEFAULTS[name] end
    if type(v) ~= "string" then c:error(name, "must be a string, got %s", describe(v)); return nil end
    if name == "name" and v:match("^%s*$") then c:error(name, "must not be empty"); return nil end
    if #v > max then c:error(name, "is %d characters long; at most %d", #v, max); return nil end
    return v
  end
  def.name = string_field("name", 255)
  def.description = string_field("description", 4000)

  for _, name in ipairs { "outbound_queue", "acw_timer_required" } do
    local v = raw[name]
    if v == nil then v = DEFAULTS[name] end
    if v ~= nil and type(v) ~= "boolean" then c:error(name, "must be true or false, got %s", describe(v)) end
    def[name] = v
  end

  local timeout = raw.acw_timeout
  if timeout == nil then timeout = DEFAULTS.acw_timeout end
  if timeout == nil then
    def.acw_timeout = nil
  elseif type(timeout) ~= "number" or timeout ~= math.floor(timeout) or timeout < 1 or timeout > 3600 then
    c:error("acw_timeout", "must be a whole number of seconds from 1 to 3600, got %s", describe(timeout))
  else
    def.acw_timeout = math.tointeger(timeout) or timeout
  end

  local policy = raw.wrap_up_policy
  if policy == nil then policy = DEFAULTS.wrap_up_policy end
  if policy == nil then
    def.wrap_up_policy = nil
  elseif type(policy) ~= "string" then
    c:error("wrap_up_policy", "must be one of required, optional, none, got %s", describe(policy))
  elseif not M.POLICIES[policy] then
    c:find { kind = "invalid-value", definition_field = "wrap_up_policy", field = "wrap_up_policy", value = policy,
      message = string.format("Invalid wrap_up_policy '%s': must be one of required, optional, none", policy) }
  end
  def.wrap_up_policy = policy

  -- absent: untouched (nil); an empty object or list: none
  local tutorial = opts.defaults == "tutorial"
  if raw.skills ~= nil or tutorial then
    local skills = entries(c, "skills", raw.skills, "level", check_level, dups.skills)
    def.skills = {}
    for _, s in ipairs(skills) do
      -- the tutorial drops level 0; gcrun removes the skill from the members
      if s.level > 0 or not tutorial then def.skills[#def.skills + 1] = s end
    end
  end
  if raw.members ~= nil or tutorial then
    def.members = entries(c, "members", raw.members, "priority", check_priority, dups.members)
  end

  if raw.division ~= nil then
    if type(raw.division) ~= "string" or raw.division:match("^%s*$") then
      c:error("division", "must be a division's name or id, got %s", describe(raw.division))
    else
      def.division = raw.division
    end
  end

  def.flows = {}
  if raw.flows ~= nil then
    if not json.is_array(raw.flows) and not (type(raw.flows) == "table" and next(raw.flows) == nil) then
      c:error("flows", "must be a list of flow names or ids, got %s", describe(raw.flows))
    else
      for i, f in ipairs(raw.flows) do
        if f == "." or f == ".." then
          -- no flow is called that, and as an id it would walk up the URL path
          c:error(string.format("flows[%d]", i), "must be a flow name or id, got '%s'", f)
        elseif type(f) ~= "string" or f == "" then
          c:error(string.format("flows[%d]", i), "must be a flow name or id (a string), got %s",
            describe(type(f) == "string" and text.shorten(f, 64) or f))
        else
          def.flows[#def.flows + 1] = f
        end
      end
    end
  end

  def.queue = NOTHING
  if raw.queue ~= nil then
    if not is_object(raw.queue) then
      c:error("queue", "must be an object of extra QueueRequest fields, got %s", describe(raw.queue))
    else
      def.queue = {}
      for k, v in pairs(raw.queue) do
        if MANAGED[k] then
          c:error("queue." .. k, "is managed by gcrun; set %s at the top level instead", MANAGED[k])
        elseif k == "id" then
          c:error("queue.id", "the queue is chosen by queue_id")
        elseif k == "division" then
          c:error("queue.division", "set division at the top level (a name or an id)")
        else
          def.queue[k] = v
        end
      end
    end
  end
  -- each finding costs the rules a pass over the members or skills: a file
  -- with thousands of duplicates is not a typo to correct but a file to fix
  if #c.findings > M.MAX_FINDINGS then
    c:error("", "%d duplicate or invalid entries; gcrun corrects at most %d in a file, fix the file",
      #c.findings, M.MAX_FINDINGS)
  end
  def.findings = #c.findings > 0 and c.findings or NOTHING
  def.warnings = #c.warnings > 0 and c.warnings or NOTHING
  if #c.errors > 0 then return nil, c end
  return def, c
end

-- load(path [, opts]) -> definition | nil; checker (opts as parse's)
function M.load(path, opts)
  local c = checker(path)
  local bytes, err = sys.read(path, M.MAX_FILE)
  if not bytes then
    c:error("", "%s", (err:gsub("^" .. path:gsub("%p", "%%%0") .. ": ", "")))
    return nil, c
  end
  -- a report of gcrun's left among the definitions (by default in the
  -- current directory) is not one of them
  if report_files.kind(bytes) then
    c:warn("a report of gcrun's, not a queue definition: skipped")
    return nil, c
  end
  return M.parse(bytes, path, opts)
end

-- Expand the command line's paths: files as given, directories to their
-- *.json files (sorted, not recursive). Returns the list, and errors for
-- paths that cannot be used. A file reached twice (given twice, or as
-- itself and inside its directory, or through a link) is read once, under
-- the path it was first reached by.
function M.expand(paths)
  local files, errors, seen = {}, {}, {}
  -- real: f's real path when the caller knows it (a directory's entry that
  -- is no link: its real directory and its name), found here otherwise
  local function add(f, real)
    real = real or sys.realpath(f) or f
    if not seen[real] then
      seen[real] = true
      files[#files + 1] = f
    end
  end
  for _, p in ipairs(paths) do
    local st, err = sys.stat(p)
    if not st then
      errors[#errors + 1] = { file = p, field = "", reason = (err:gsub("^.-: ", "")) }
    elseif st.type == "directory" then
      local names, derr = sys.dir(p)
      local n = 0
      -- the directory resolved once, not each of its (thousands of) files:
      -- an entry that is no link is the real directory's name
      local real_dir = sys.realpath(p)
      real_dir = real_dir and real_dir:gsub("/$", "") .. "/"
      local dir = p:gsub("/+$", "") .. "/"
      for _, name in ipairs(names or {}) do
        if name:match("%.json$") and name:sub(1, 1) ~= "." then
          local f = dir .. name
          local lst = real_dir and sys.lstat(f)
          add(f, lst and lst.type ~= "link" and real_dir .. name or nil)
          n = n + 1
        end
      end
      if not names then
        errors[#errors + 1] = { file = p, field = "", reason = "cannot read the directory: " .. derr:gsub("^.-: ", "") }
      elseif n == 0 then
        errors[#errors + 1] = { file = p, field = "", reason = "directory has no *.json files" }
      end
    else
      add(p)
    end
  end
  return files, errors
end

-- load_all(paths [, opts]) -> definitions, errors, warnings (errors and
-- warnings alike: {file=, field=, reason=}; format_error prints either)
-- The same queue_id (in any letter case) in two files, or, without one,
-- the same name (in any case) is an error for the second. The files' text
-- and parsed JSON are garbage once checked; a collection afterwards keeps
-- them from setting the run's peak memory.
function M.load_all(paths, opts)
  local files, errors = M.expand(paths)
  local defs, warnings, by_queue = {}, {}, {}
  for _, f in ipairs(files) do
    local def, c
    if report_files.default_name(f) then   -- by name too: a truncated report is no definition either
      c = checker(f)
      c:warn("named as gcrun's reports are: skipped, not read as a queue definition")
    else
      def, c = M.load(f, opts)
    end
    for _, e in ipairs(c.errors) do errors[#errors + 1] = e end
    for _, w in ipairs(c.warnings) do warnings[#warnings + 1] = { file = f, field = "", reason = w } end
    if def then
      local key = def.queue_id or ("name:" .. def.name:lower())
      local first = by_queue[key]
      if first then
        local id, first_id = def.written_id or def.queue_id, first.written_id or first.queue_id
        local case = id and id ~= first_id
          and string.format(" as %s (an id is the same in upper and lower case)", first_id) or ""
        errors[#errors + 1] = { file = f, field = def.queue_id and "queue_id" or "name",
          reason = string.format("queue %s is already defined by %s%s", id or def.name, first.file, case) }
      else
        by_queue[key] = def
        defs[#defs + 1] = def
      end
    end
  end
  collectgarbage("collect")
  return defs, errors, warnings
end

-- add_warning(def, message): a warning about a definition found after it
-- was read (an agent's skill asked at two levels by two files): kept with
-- the file's own, for the report; at most MAX_WARNINGS, then a count.
M.MAX_WARNINGS = 20
function M.add_warning(def, message)
  if def.warnings == nil or def.warnings == NOTHING then def.warnings = {} end
  local w = def.warnings
  if #w < M.MAX_WARNINGS then
    w[#w + 1] = message
    return
  end
  def.more_warnings = (def.more_warnings or 0) + 1
  w[M.MAX_WARNINGS + 1] = string.format("%d more warnings", def.more_warnings)
end

-- by_file(warnings) -> {file: {reason...}}: load_all's warnings by file
-- (for the report's entries of skipped files)
function M.by_file(warnings)
  local out = {}
  for _, w in ipairs(warnings) do
    out[w.file] = out[w.file] or {}
    table.insert(out[w.file], w.reason)
  end
  return out
end

function M.format_error(e)
  if e.field == "" then return string.format("%s: %s", e.file, e.reason) end
  return string.format("%s: %s: %s", e.file, e.field, e.reason)
end

return M
