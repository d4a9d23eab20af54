-- gcrun.api: the dialects queue-sync speaks, and the contract each keeps.
-- A dialect is a module gcrun.api.<name> (platform, tutorial) with
--
--   M.name                         "platform" | "tutorial"
--   M.token                        how its token is asked for, for
--                                  gcrun.oauth.resolve{token=}: {host = "login" |
--                                  "api", path=, client_auth = "basic" | "json"}
--   M.new(client, opts) -> api     client: a gcrun.http client; opts:
--                                  {force_unlock=, lock_wait=, member_lag_wait=,
--                                   skill_levels = {agent = {skill = level}},
--                                   skill_given = gcrun.skill_levels.settle's second value,
--                                   group_skills = true (execute leaves skills to
--                                   assign_skills, once per agent), find_flows =
--                                   false (read finds no consuming flows)}
--
-- and an api object whose methods are
--
--   api:scope() -> api             a view counting requests in api.counters
--                                  ({requests, retries, throttled, writes}) for
--                                  one queue or flow; what is read once per run
--                                  is shared between views
--   api:prepare()                  what is read once per run (the org's skills)
--   api:skills() -> {id = name} | nil   the org's skills, nil when the dialect
--                                  cannot list them
--   api:prefetch(defs, all)        optional: read in bulk what read() will need
--                                  for these definitions (all: the run's), so
--                                  read() sends only what it must per queue; a
--                                  dialect without bulk reads leaves it out
--   api:read(def) -> current       the queue and what surrounds it:
--                                  {queue=, members = { {id=, ringNumber=, name=} },
--                                   agents = {id = {name=, skills = {id = level}}} | nil,
--                                   flows = { {id=, name=} }  (the consuming flows)};
--                                  raises "not_found" when there is no such queue
--   api:plan(desired, current) -> plan   a gcrun.result plan (fields_changed,
--                                  members_added, members_removed, ring_changes,
--                                  skill_assignments, empty) and plan.problems:
--                                  what the org says is wrong with `desired`, as
--                                  gcrun.api.problems describes them
--   api:execute(queue_id, plan, current)   send the plan's writes; `current`
--                                  follows what was accepted; a 400 raises
--                                  "rejected" with err.problems
--   api:assign_skills(user, skills)   optional: set one agent's skills
--                                  ({id=, level=}); with it and opts.group_skills
--                                  the engine sends each agent's skills once for
--                                  all its queues (gcrun.sync_agents)
--   api:outcome(before, after) -> plan   what changed between two states (for
--                                  the report), in the same form
--   api:edit_flow(flow_id, queues, {dry_run=}) -> flow record   queues:
--                                  { {id=, name=} }; the record is a gcrun.result
--                                  flow with status "updated" | "unchanged" |
--                                  "planned"; raises on failure (the flow is
--                                  checked in again first)
--
--   api:organization() -> {id=, name=}   the org signed in to (platform
--                                  only: queue-sync records it, queue-rollback
--                                  checks it)
--
-- The platform dialect also offers what queue-export reads with:
-- api:pages(path, params, query, what), api:members(queue_id) and
-- api:agents(ids).
--
-- Errors are gcrun.errors tables: codes rejected, not_found, conflict, auth,
-- permission, http, interrupted, locked, bad_response.
local M = {}

M.DIALECTS = { "platform", "tutorial" }

-- new(dialect, client, opts) -> api of that dialect
function M.new(dialect, client, opts)
  return require("gcrun.api." .. dialect).new(client, opts)
end

return M
