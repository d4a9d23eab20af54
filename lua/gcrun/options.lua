-- Declared options: scripts list what they take, this module parses argv
-- against the list and writes the help text, so every script gets the
-- same syntax (--name, --name=value, --name value, --) for free.
--
-- A declaration is { "name" or "name=METAVAR", "help", default = v,
-- type = "string"|"integer"|"number", choices = {...}, multiple = true,
-- short = "x", check = function(v) return v or nil, reason end,
-- stop = true (with stop_at_positional: the arguments after it are left alone),
-- conflicts = { "other", ... } (a usage error when given together),
-- default_if = { other = v } (the default when --other is given) }.
local errors = require "gcrun.errors"
local text = require "gcrun.text"

local M = {}

local function usage_error(fmt, ...)
  errors.raise("usage", fmt, ...)
end

function M.compile(decls)
  local c = { list = {}, by_name = {}, by_short = {} }
  for _, d in ipairs(decls or {}) do
    local name, metavar = d[1]:match("^([%w%-]+)=(.+)$")
    name = name or d[1]
    local o = {
      name = name, metavar = metavar, help = d[2] or "", default = d.default,
      type = d.type or (metavar and "string" or "boolean"), choices = d.choices,
      multiple = d.multiple, short = d.short, check = d.check, stop = d.stop,
      conflicts = d.conflicts, default_if = d.default_if,
    }
    if c.by_name[name] then error("option --" .. name .. " declared twice", 2) end
    c.list[#c.list + 1] = o
    c.by_name[name] = o
    if o.short then c.by_short[o.short] = o end
  end
  return c
end

-- Merge compiled option sets (a script's own and the common ones).
function M.merge(...)
  local c = { list = {}, by_name = {}, by_short = {} }
  for _, set in ipairs({ ... }) do
    for _, o in ipairs(set.list) do
      if not c.by_name[o.name] then
        c.list[#c.list + 1] = o
        c.by_name[o.name] = o
        if o.short then c.by_short[o.short] = o end
      end
    end
  end
  return c
end

local function convert(o, raw, where)
  local v = raw
  if o.type == "integer" then
    v = math.tointeger(tonumber(raw))
    if not v then usage_error("%s--%s expects a whole number, got '%s'", where, o.name, raw) end
  elseif o.type == "number" then
    v = tonumber(raw)
    if not v then usage_error("%s--%s expects a number, got '%s'", where, o.name, raw) end
  end
  if o.choices then
    local ok = false
    for _, c in ipairs(o.choices) do if c == v then ok = true end end
    if not ok then
      usage_error("%s--%s must be one of %s, got '%s'", where, o.name,
        text.join(o.choices, "or"), raw)
    end
  end
  if o.check then
    local checked, reason = o.check(v)
    if checked == nil then usage_error("%s--%s %s", where, o.name, reason or "is invalid") end
    v = checked
  end
  return v
end

local function names_of(c)
  local names = {}
  for _, o in ipairs(c.list) do names[#names + 1] = "--" .. o.name end
  return names
end

-- Options that cannot go together, checked on what the command line gave.
local function check_conflicts(c, given, where)
  for _, o in ipairs(c.list) do
    for _, other in ipairs(given[o.name] and o.conflicts or {}) do
      if given[other] then usage_error("%s--%s and --%s cannot be used together", where, o.name, other) end
    end
  end
end

-- The default of an option, which may depend on another one given.
local function default_of(o, given)
  for other, v in pairs(o.default_if or {}) do
    if given[other] then return v end
  end
  return o.default
end

-- parse(compiled, argv, {where=, stop_at_positional=}) -> values, positional, rest, given
-- `rest` is what follows the first positional when stop_at_positional is
-- set; `given` is the set of option names the command line gave.
function M.parse(c, argv, how)
  how = how or {}
  local where = how.where and (how.where .. ": ") or ""
  local values, positional, given = {}, {}, {}
  local function set(o, v)
    given[o.name] = true
    if o.multiple then
      values[o.name] = values[o.name] or {}
      table.insert(values[o.name], v)
    else
      values[o.name] = v
    end
  end
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      for j = i + 1, #argv do positional[#positional + 1] = argv[j] end
      break
    end
    local o, inline
    if a:sub(1, 2) == "--" and #a > 2 then
      local name, val = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:sub(3)
      inline = val
      o = c.by_name[name]
      if not o then
        local near = text.closest("--" .. name, names_of(c))
        usage_error("%sunknown option '--%s'%s", where, name,
          near and (" (did you mean '" .. near .. "'?)") or "")
      end
    elseif a:match("^%-%a$") then
      o = c.by_short[a:sub(2)]
      if not o then usage_error("%sunknown option '%s'", where, a) end
    else
      if how.stop_at_positional then
        local rest = {}
        for j = i + 1, #argv do rest[#rest + 1] = argv[j] end
        positional[#positional + 1] = a
        return values, positional, rest, given
      end
      positional[#positional + 1] = a
      o = nil
    end
    if o then
      if o.metavar then
        local raw = inline
        if raw == nil then
          i = i + 1
          raw = argv[i]
          if raw == nil then usage_error("%s--%s needs a value (%s)", where, o.name, o.metavar) end
        end
        set(o, convert(o, raw, where))
        if o.stop and how.stop_at_positional then   -- what follows belongs to someone else
          local rest = {}
          for j = i + 1, #argv do rest[#rest + 1] = argv[j] end
          return values, positional, rest, given
        end
      else
        if inline ~= nil then usage_error("%s--%s takes no value", where, o.name) end
        given[o.name] = true
        if o.type == "count" then
          values[o.name] = (values[o.name] or 0) + 1
        else
          set(o, true)
        end
      end
    end
    i = i + 1
  end
  check_conflicts(c, given, where)
  for _, o in ipairs(c.list) do
    if values[o.name] == nil then
      local d = default_of(o, given)
      if d ~= nil then
        -- a default written as the user would type it goes through the same checks
        if type(d) == "string" and (o.check or o.type ~= "string") then d = convert(o, d, where) end
        values[o.name] = d
      elseif o.multiple then
        values[o.name] = {}
      elseif o.metavar == nil then
        values[o.name] = o.type == "count" and 0 or false
      end
    end
  end
  return values, positional, {}, given
end

-- Help text for a list of sections { title, compiled }.
function M.help(sections)
  local lines = {}
  for _, s in ipairs(sections) do
    if #s[2].list > 0 then
      lines[#lines + 1] = s[1] .. ":"
      for _, o in ipairs(s[2].list) do
        local left = "  " .. (o.short and ("-" .. o.short .. ", ") or "")
          .. "--" .. o.name .. (o.metavar and (" " .. o.metavar) or "")
        local right = o.help
        if o.choices then right = right .. " (" .. table.concat(o.choices, "|") .. ")" end
        if o.default ~= nil and o.default ~= false and o.type ~= "count" then
          local alt = {}
          for other, v in pairs(o.default_if or {}) do alt[#alt + 1] = "; with --" .. other .. ": " .. tostring(v) end
          table.sort(alt)
          right = right .. " [default: " .. tostring(o.default) .. table.concat(alt) .. "]"
        end
        if #left < 28 then
          lines[#lines + 1] = left .. string.rep(" ", 28 - #left) .. right
        else
          lines[#lines + 1] = left
          lines[#lines + 1] = string.rep(" ", 28) .. right
        end
      end
    end
  end
  return table.concat(lines, "\n")
end

return M
