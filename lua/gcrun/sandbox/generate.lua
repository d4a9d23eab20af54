-- Generating sandbox orgs: the example org (examples/sandbox-org.json) and
-- the large orgs the benchmarks use. Deterministic for a given seed; ids
-- look like the service's (UUIDs); queue nodes in flows and dependency
-- tracking agree because the latter is computed from the former.
local ids = require "gcrun.sandbox.ids"
local json = require "gcrun.json"

local M = {}

local FIRST = { "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Dennis",
  "Radia", "Tim", "Shafi", "Leslie", "Niklaus", "John", "Hedy", "Katherine", "Linus", "Sophie" }
local LAST = { "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton",
  "Ritchie", "Perlman", "Berners-Lee", "Goldwasser", "Lamport", "Wirth", "McCarthy", "Lamarr", "Johnson",
  "Torvalds", "Wilson" }
local SKILLS = { "English", "Spanish", "French", "German", "Billing", "Refunds", "Technical L1", "Technical L2",
  "Sales", "Retention", "VIP", "Claims", "Onboarding", "Escalations", "Accessibility" }
local AREAS = { "Billing", "Technical Support", "Sales", "Retention", "Claims", "Onboarding", "VIP Care",
  "Escalations", "Returns", "Accounts", "Partners", "General Enquiries" }

local function generator(seed)
  local state = seed % 2147483647
  if state <= 0 then state = state + 2147483646 end
  local r = {}
  function r.next()
    state = (state * 48271) % 2147483647
    return state
  end
  function r.int(lo, hi) return lo + r.next() % (hi - lo + 1) end
  function r.uuid()
    local a, b, c, d = r.next(), r.next(), r.next(), r.next()
    return string.format("%08x-%04x-4%03x-%04x-%08x%04x", (a * 2) & 0xffffffff, b & 0xffff, c & 0xfff,
      0x8000 | (d & 0x3fff), (a ~ c) & 0xffffffff, (b ~ d) & 0xffff)
  end
  return r
end

local function media_settings()
  local function m(alert, pct, dur)
    return { alertingTimeoutSeconds = alert, serviceLevel = { percentage = pct, durationMs = dur } }
  end
  return { call = m(8, 0.8, 20000), callback = m(30, 0.8, 20000), chat = m(30, 0.8, 20000),
    email = m(300, 0.8, 86400000), message = m(30, 0.8, 20000) }
end

-- org{users=, skills=, queues=, flows=, queues_per_flow=, members=, seed=,
--     example_flow=} -> org data
function M.org(opts)
  local r = generator(opts.seed or 20261128)
  local data = {
    org = { id = r.uuid(), name = opts.name or "Example Org (gcrun sandbox)" },
    clients = json.array { { id = opts.client_id or "gcrun-example-client",
      secret = opts.client_secret or "gcrun-example-secret", name = "gcrun example client" } },
    users = json.array({}), skills = json.array({}), queues = json.array({}), flows = json.array({}),
  }
  -- the home division and one more (every third queue is in it); ids
  -- derived from the org's, so the generator's sequence is unchanged
  data.divisions = json.array {
    { id = ids.derive(data.org.id .. "/home"), name = "Home", homeDivision = true },
    { id = ids.derive(data.org.id .. "/operations"), name = "Operations", homeDivision = false },
  }
  for i = 1, opts.skills or #SKILLS do
    local name = SKILLS[i] or string.format("Skill %03d", i)
    data.skills[i] = { id = r.uuid(), name = name, state = "active" }
  end
  for i = 1, opts.users or 40 do
    -- (i mod 20, (i div 20 + i) mod 20) differs for every i below 400
    local first, last = FIRST[(i - 1) % #FIRST + 1], LAST[((i - 1) // #FIRST + i - 1) % #LAST + 1]
    local name = i <= #FIRST * #LAST and (first .. " " .. last) or string.format("%s %s %d", first, last, i)
    local u = { id = r.uuid(), name = name, email = string.format("%s.%s%d@example.com", first:lower(),
      last:lower():gsub("[^%w]", ""), i), state = "active", skills = json.array({}) }
    for _ = 1, r.int(0, 2) do
      local s = data.skills[r.int(1, #data.skills)]
      local dup = false
      for _, have in ipairs(u.skills) do if have.id == s.id then dup = true end end
      if not dup then u.skills[#u.skills + 1] = { id = s.id, proficiency = r.int(1, 5) } end
    end
    data.users[i] = u
  end
  local nqueues = opts.queues or #AREAS
  for i = 1, nqueues do
    local name = nqueues <= #AREAS and AREAS[i] or string.format("Queue %04d", i)
    local q = {
      id = r.uuid(), name = name, description = "Calls about " .. name:lower(),
      mediaSettings = media_settings(), skillEvaluationMethod = i % 3 == 0 and "BEST" or "ALL",
      acwSettings = { wrapupPrompt = "MANDATORY_TIMEOUT", timeoutMs = 120000 },
      bullseye = { rings = json.array {
        { expansionCriteria = json.array { { type = "TIMEOUT_SECONDS", threshold = 15 } } } } },
      routingRules = json.array({}), memberGroups = json.array({}),
      enableTranscription = i % 2 == 0, enableManualAssignment = false, autoAnswerOnly = true,
      callingPartyName = "Example Inc.", scoringMethod = "TimestampAndPriority",
      dateCreated = "2026-01-15T09:30:00.000Z", createdBy = "admin", version = 1,
      members = json.array({}),
    }
    if i % 3 == 0 then q.division = { id = data.divisions[2].id } end
    local seen = {}
    for _ = 1, r.int(opts.members_min or 2, opts.members_max or 5) do
      local u = data.users[r.int(1, #data.users)]
      if not seen[u.id] then
        seen[u.id] = true
        q.members[#q.members + 1] = { id = u.id, ringNumber = 1, joined = true }
      end
    end
    data.queues[i] = q
  end
  local per = opts.queues_per_flow or 3
  local nflows = opts.flows or 6
  for i = 1, nflows do
    local nodes = json.array {
      { id = "start", type = "Menu", config = { prompt = "Welcome to Example Inc." } },
      { id = "hours", type = "Message", config = { text = "We are open 8 to 8." } },
    }
    for j = 1, per do
      local q = data.queues[((i - 1) * per + j - 1) % #data.queues + 1]
      nodes[#nodes + 1] = { id = "to-" .. j, type = "Queue",
        config = { queueId = q.id, queueName = q.name, timeoutSeconds = 300 } }
    end
    nodes[#nodes + 1] = { id = "bye", type = "Disconnect", config = {} }
    data.flows[i] = { id = r.uuid(), name = string.format("Inbound %02d", i), type = "INBOUNDCALL",
      description = "Main line " .. i, publishedVersion = 1, checkedInVersion = 1,
      configuration = { name = string.format("Inbound %02d", i), version = 1, nodes = nodes } }
  end
  if opts.example_flow then
    -- the flow id the tutorial's script hard-codes, routing to the first two queues
    local nodes = json.array { { id = "greeting", type = "Message", config = { text = "Hello" } } }
    for j = 1, 2 do
      local q = data.queues[j]
      nodes[#nodes + 1] = { id = "queue-" .. j, type = "Queue",
        config = { queueId = q.id, queueName = q.name, timeoutSeconds = 300 } }
    end
    data.flows[#data.flows + 1] = { id = "example-flow-id", name = "Tutorial example flow", type = "INBOUNDCALL",
      publishedVersion = 1, checkedInVersion = 1,
      configuration = { name = "Tutorial example flow", version = 1, nodes = nodes } }
  end
  return data
end

return M
