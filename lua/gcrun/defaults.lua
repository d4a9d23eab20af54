-- One place for each default gcrun's engine and client use, found by name.
-- The C transport has no defaults of its own that matter: Lua always
-- passes these.
return {
  -- queues (or flows) processed at once by queue-sync (--concurrency)
  concurrency = 4,
  -- tasks gcrun.http.parallel runs at once when the caller does not say
  parallel = 4,
  -- connections a client keeps in flight: scripts' default; queue-sync
  -- sizes its pool from --concurrency (pool_per_queue each, within bounds)
  connections = 16,
  pool_per_queue = 12, pool_min = 32, pool_max = 256,
  -- requests one queue's reads send at once (queue, members, agents, flows)
  read_fanout = 4,
  -- writes (PUT, members, skills per agent, ring numbers) one queue sends at once
  write_fanout = 8,
  -- queues queue-export reads and writes at once
  export_fanout = 8,
  -- the service's limits per call
  member_batch = 100, skill_batch = 50, user_batch = 100,
  -- queues read by id in one GET /api/v2/routing/queues?id=... (its page)
  queue_batch = 100,
  -- queues queue-sync reads in bulk and then works on before reading the
  -- next ones: bounds what a run of thousands of queues holds at once
  read_window = 500,
  -- entities asked per page, and the most pages a listing may have
  page_size = 100, max_pages = 10000,
  -- attempts per request, as the official Terraform provider (RetryMax 20)
  max_attempts = 20,
  -- correction rounds per queue (--max-corrections)
  max_corrections = 3,
  -- seconds to wait for a flow another user holds (--lock-wait)
  lock_wait = 60,
  -- saves of one flow edit, the first included: each stale version or save
  -- of unknown outcome costs one (at 8, a 30% concurrent editor with 15%
  -- dropped answers failed a test run in about forty)
  flow_edit_attempts = 16,
  -- seconds a ring number of a just-added member is retried on 404
  member_lag_wait = 10,
  -- seconds a queue just created may stay invisible (404, missing from lists)
  queue_lag_wait = 30,
}
