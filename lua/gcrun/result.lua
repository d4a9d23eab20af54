-- The result records of a sync: one per queue, one per flow, and the plan
-- they are filled from, in one vocabulary from plan to output to report:
--
--   fields_changed     { {field=, before=, after=}, ... }
--   members_added      { user id, ... }
--   members_removed    { user id, ... }
--   ring_changes       { {member=, before=, after=}, ... }
--   removed_rings      { {member=, before=}, ... }  the ring numbers removed
--                      members had (what a rollback adds them back with)
--   skill_assignments  { {user=, name=, skills = { {id=, level=, before=, added=}, ... }}, ... }
--                      (level 0: the skill is removed; before: the agent's
--                      level until now, nil (and added = true) when it had none)
--   created            true when the queue was created (or, dry run, would be)
--   differences        in a rollback: { {what=, expected=, found=}, ... },
--                      what changed since the run (why the queue, agent or
--                      flow was left alone)
--
-- Names travel beside ids: the run's `names` ({users =, skills =, flows =},
-- id -> name, filled by gcrun.resolve and the reads) name every id a
-- record holds; the report writes them next to the ids (see gcrun.report).
--
-- A plan (api:plan) and an outcome (api:outcome) carry these fields, plus
-- `problems` and `empty`; note() copies them onto a queue's record. Skill
-- levels are `level` everywhere in gcrun; the platform dialect says
-- `proficiency` only on the wire.
local errors = require "gcrun.errors"

local M = {}

-- Statuses, in the order the summary lists them.
M.STATUSES = { "updated", "unchanged", "planned", "failed", "interrupted", "not_started" }

-- Queues in these states route traffic as planned or written: their flows
-- are kept in step (a failed queue's nodes keep naming it as it still is).
M.SETTLED = { updated = true, unchanged = true, planned = true }

-- queue(def) -> the record of one definition's queue, not started yet.
function M.queue(def)
  return { def = def, file = def.file, queue_id = def.queue_id, queue_name = def.name, status = "not_started",
    corrections = {}, flows = {} }
end

-- plan([fields_changed]) -> a plan with nothing else to change yet.
function M.plan(fields_changed)
  return { fields_changed = fields_changed or {}, members_added = {}, members_removed = {}, ring_changes = {},
    removed_rings = {}, skill_assignments = {}, problems = {} }
end

function M.is_empty(plan)
  return #plan.fields_changed == 0 and #plan.members_added == 0 and #plan.members_removed == 0
    and #plan.ring_changes == 0 and #plan.skill_assignments == 0
end

-- note(record, plan, desired): what the plan (or outcome) says changes.
function M.note(record, plan, desired)
  record.fields_changed, record.members_added, record.members_removed = plan.fields_changed,
    plan.members_added, plan.members_removed
  record.ring_changes, record.skill_assignments = plan.ring_changes, plan.skill_assignments
  record.removed_rings = plan.removed_rings
  record.queue_name = desired.name or record.queue_name
  -- absent (untouched) skills or members: none assigned by this definition
  record.skills_assigned, record.members_assigned = #(desired.skills or {}), #(desired.members or {})
end

-- failed(record, err, status): the record of a queue or flow that raised.
function M.failed(record, err, status)
  record.status = status or (errors.is(err, "interrupted") and "interrupted" or "failed")
  record.error, record.error_code = errors.message(err), type(err) == "table" and err.code or nil
  return record
end

-- flow(id, counters) -> the record of one flow's edit: name, status,
-- old_version, new_version, changes (node edits {node=, queue=, field=,
-- before=, after=}), attempts, conflicts, lock_waits, unlocked (who held
-- the lock broken), checkin_failed, left_locked (a lock it could not
-- release), saved_version (saved, not published), error, queues (ids),
-- counters.
function M.flow(id, counters)
  return { id = id, counters = counters, changes = {} }
end

return M
