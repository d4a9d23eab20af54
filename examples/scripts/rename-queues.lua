-- A one-off migration with the same authenticated client as queue-sync:
-- rename every queue whose name matches a Lua pattern.
--
--   gcrun examples/scripts/rename-queues.lua --sandbox --from '^Inbound ' --to 'Voice ' --dry-run
--
-- Queues are renamed several at a time; each rename reads the queue and
-- writes it back whole, so nothing else about it changes.
local gc = require "gcrun"

return {
  description = "Rename queues whose names match a Lua pattern",
  options = {
    { "from=PATTERN", "Lua pattern the current name must match" },
    { "to=REPLACEMENT", "replacement (as string.gsub takes it)" },
  },
  main = function(opts)
    if not opts.from or not opts.to then
      error({ code = "usage", message = "give --from PATTERN and --to REPLACEMENT" }, 0)
    end
    local todo = {}
    for q in gc.paginate("/api/v2/routing/queues") do
      local new = q.name:gsub(opts.from, opts.to)
      if new ~= q.name then todo[#todo + 1] = { id = q.id, old = q.name, new = new } end
    end
    local _, errs = gc.parallel(todo, function(t)
      local q = gc.get("/api/v2/routing/queues/" .. gc.encode(t.id))
      for _, k in ipairs { "selfUri", "dateModified", "modifiedBy", "memberCount", "userMemberCount",
          "joinedMemberCount", "version" } do
        q[k] = nil
      end
      q.name = t.new
      gc.put("/api/v2/routing/queues/" .. gc.encode(t.id), q)
      print(string.format("%s%s -> %s", gc.dry_run and "would rename " or "", t.old, t.new))
    end, { concurrency = 4 })
    local failed = 0
    for i, e in pairs(errs) do
      failed = failed + 1
      io.stderr:write(string.format("gcrun: %s: %s\n", todo[i].old, tostring(e.message or e)))
    end
    -- a dry run sends no PUT: it renames nothing, and says what it would
    print(string.format("%d %s, %d failed (%s)", #todo - failed, gc.dry_run and "would be renamed" or "renamed",
      failed, gc.target()))
    return failed > 0 and 1 or 0
  end,
}
