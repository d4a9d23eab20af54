-- Reading an org in bulk on the Platform API, with the fewest requests the
-- API allows: on a real org the budget (300 requests a minute per client
-- by default) is what a run's time is made of. Every function takes an api
-- view of gcrun.api.platform (anything with :call and :pages, so requests
-- are counted where they are made) and raises the gcrun.errors of a failed
-- request.
--
--   skills(api) -> {id = name}                     GET /api/v2/routing/skills, every page
--   queues(api, ids) -> {id = Queue}               GET /api/v2/routing/queues?id=..., 100 ids a call
--   users(api, ids [, keep]) -> {id = agent}       GET /api/v2/users?id=...&expand=skills, 100 ids a call;
--                                                  agent = {name=, email=, skills = {skill id = level}},
--                                                  only the skills in `keep` (a set) when given
--   consumers(api, queue_id) -> { {id=, name=} }   dependency tracking for one queue
--   consumers_of(api, queue_ids) -> finder         which flows route to which queues, found the
--                                                  cheaper way for this many queues (see below)
--
-- and for queue-sync's engine: windows(records, size) and prefetch(api,
-- window, all), the bulk reads before each window's per-queue work.
local answers = require "gcrun.api.answers"
local call = require "gcrun.api.call"
local defaults = require "gcrun.defaults"
local errors = require "gcrun.errors"
local http = require "gcrun.http"
local log = require "gcrun.log"

local M = {}

local function batches(list, size)
  local out = {}
  for i = 1, #list, size do out[#out + 1] = table.move(list, i, math.min(#list, i + size - 1), 1, {}) end
  return out
end
M.batches = batches

-- Run fn over the batches of ids, read_fanout at a time; raise the first
-- error (an interrupt first).
local function each_batch(ids, size, fn)
  local _, errs = http.parallel(batches(ids, size), fn, { concurrency = defaults.read_fanout })
  call.rethrow(errs)
end

function M.skills(api)
  local skills = {}
  for _, s in ipairs(api:pages("/api/v2/routing/skills", nil, nil, "GET skills")) do skills[s.id] = s.name end
  return skills
end

-- queues(api, ids) -> {id = Queue} for the ids the org has (a queue created
-- moments ago may be missing yet: the caller reads those one by one).
function M.queues(api, ids)
  local found = {}
  each_batch(ids, defaults.queue_batch, function(group)
    -- decoded to be sent back: the PUT is built from the queue as read
    for _, q in ipairs(call.pages(api, "/api/v2/routing/queues", nil, { id = group, pageSize = defaults.queue_batch },
        "GET queues", { sendable = true })) do
      answers.queue(q, nil, "GET queues")
      found[q.id] = q
    end
  end)
  return found
end

-- users(api, ids [, keep]) -> {id = {name=, skills = {id = level}}} for the
-- users that exist. `keep` (a set of skill ids) bounds what is held: a run
-- over thousands of queues needs an agent's levels of its own skills only.
function M.users(api, ids, keep)
  local agents = {}
  each_batch(ids, defaults.user_batch, function(group)
    local resp = api:call({ path = "/api/v2/users", query = { id = group, expand = "skills",
      pageSize = defaults.user_batch } }, "GET users")
    for _, u in ipairs(answers.page(resp:json({ read_only = true }), "GET users").entities or {}) do
      local skills = {}
      for _, s in ipairs(u.skills or {}) do
        -- listings decode 2 as 2.0
        if not keep or keep[s.id] then skills[s.id] = math.tointeger(s.proficiency) or s.proficiency end
      end
      agents[u.id] = { name = u.name, email = u.email, skills = skills }
    end
  end)
  return agents
end

-- Dependency tracking's answer for one queue: the flows that consume it.
function M.consumers(api, queue_id)
  local flows = {}
  for _, d in ipairs(api:pages("/api/v2/architect/dependencytracking/consumingresources", nil,
      { id = queue_id, objectType = "QUEUE" }, "GET consuming flows")) do
    if type(d.type) == "string" and (d.type:match("FLOW$") or d.type == "WORKFLOW") then
      flows[#flows + 1] = { id = d.id, name = d.name }
    end
  end
  return flows
end

function M.latest(api, flow_id)
  return answers.object(api:call({ path = "/api/v2/flows/{id}/latestconfiguration", params = { id = flow_id } },
    "GET flow configuration"):json(), "GET flow configuration")
end

-- consumers_of(api, queue_ids [, rules]) -> finder, or nil
-- Which flows route to the run's queues costs either one dependency
-- tracking call per queue, or the flow list plus each flow's latest
-- configuration read once. The first page of the flow list says how many
-- flows there are; when reading them all costs fewer requests than the
-- queues, they are read here and the finder answers from memory:
--   finder.flows(queue_id) -> { {id=, name=} }
--   finder.config(flow_id) -> the configuration read (once: the flow edit
--                             takes it, so it is not held for the run)
-- Otherwise nil: the caller asks dependency tracking per queue. `rules`
-- is gcrun.flows (routes_to), so a flow is found as it is then edited.
function M.consumers_of(api, queue_ids, rules)
  if #queue_ids < 2 then return nil end
  local size = defaults.page_size
  local function page(n)
    return answers.page(api:call({ path = "/api/v2/flows", query = { pageSize = size, pageNumber = n } },
      "GET flows"):json({ read_only = true }), "GET flows")
  end
  local first = page(1)
  local listing = first.entities or {}
  local total = math.tointeger(first.total) or #listing
  local pages = math.max(1, (total + size - 1) // size)
  if (pages - 1) + total >= #queue_ids then return nil end
  for n = 2, pages do
    local entities = page(n).entities or {}
    if #entities == 0 then break end
    table.move(entities, 1, #entities, #listing + 1, listing)
  end
  rules = rules or require "gcrun.flows"
  local wanted = {}
  for _, id in ipairs(queue_ids) do wanted[id] = true end
  local by_queue, configs = {}, {}
  local _, errs = http.parallel(listing, function(f)
    local cfg = M.latest(api, f.id)
    local uses = false
    for _, node in ipairs(cfg.nodes or {}) do
      local qid = type(node.config) == "table" and node.config.queueId
      if type(qid) == "string" and wanted[qid] and rules.routes_to(node, qid) then
        local list = by_queue[qid] or {}
        by_queue[qid] = list
        local dup = false
        for _, e in ipairs(list) do if e.id == f.id then dup = true end end
        if not dup then list[#list + 1] = { id = f.id, name = f.name } end
        uses = true
      end
    end
    if uses then configs[f.id] = cfg end
  end, { concurrency = defaults.read_fanout })
  call.rethrow(errs)
  return {
    flows = function(queue_id) return by_queue[queue_id] or {} end,
    config = function(flow_id)
      local cfg = configs[flow_id]
      configs[flow_id] = nil
      return cfg
    end,
  }
end

-- windows(records, size) -> the records in runs of `size`: a run of
-- thousands of queues reads and works on one window at a time, so what it
-- holds of the org stays bounded.
function M.windows(list, size)
  return batches(list, size)
end

local function defs_of(recs)
  local defs = {}
  for i, rec in ipairs(recs) do defs[i] = rec.def end
  return defs
end

-- prefetch(api, window, all): the dialect's bulk reads for a window of
-- queue records (all: every record of the run), when it has them. A bulk
-- read that fails is not the run's failure: each queue then reads what is
-- missing itself, and fails or not on its own.
function M.prefetch(api, window, all)
  if not api.prefetch then return end
  local ok, err = pcall(api.prefetch, api, defs_of(window), defs_of(all))
  if not ok then
    if errors.is(err, "interrupted") then error(err, 0) end
    log.warn(string.format("reading %d queues in bulk failed (%s); reading them one by one",
      #window, errors.message(err)))
  end
end

return M
