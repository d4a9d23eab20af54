-- The impact report as Markdown, for routing administrators to read or
-- paste into a change ticket.
local json = require "gcrun.json"
local tables = require("gcrun.report").tables

local M = {}

local function cell(v)
  if v == nil or v == json.null then return "" end
  if type(v) == "table" then v = json.encode(v) end
  return (tostring(v):gsub("|", "\\|"):gsub("\n", " "))
end

local function table_of(out, header, rows)
  out[#out + 1] = "| " .. table.concat(header, " | ") .. " |"
  out[#out + 1] = "|" .. string.rep(" --- |", #header)
  for _, r in ipairs(rows) do
    local cells = {}
    for i = 1, #header do cells[i] = cell(r[i]) end
    out[#out + 1] = "| " .. table.concat(cells, " | ") .. " |"
  end
  out[#out + 1] = ""
end

function M.render(doc)
  local run = doc.run
  local out = {
    "# Queue impact report", "",
    string.format("Generated %s by gcrun %s against %s (%s API)%s.", doc.generated_at, cell(run.gcrun_version),
      cell(run.target), cell(run.dialect), run.dry_run and ", **dry run: nothing was changed**" or ""),
    string.format("Run status: **%s**, %.1f s, %d requests (%d retries, %d answered 429).", run.status,
      run.duration_seconds, run.requests, run.retries, run.throttled), "",
  }
  local counts = {}
  for _, k in ipairs(require("gcrun.result").STATUSES) do
    if run.counts[k] then counts[#counts + 1] = { k, run.counts[k] } end
  end
  counts[#counts + 1] = { "flows updated", run.flows_updated }
  table_of(out, { "Status", "Queues" }, counts)

  out[#out + 1] = "## Queues"
  out[#out + 1] = ""
  table_of(out, tables.queues(doc))

  for _, c in ipairs(doc.changes) do
    out[#out + 1] = string.format("### %s (%s): %s", cell(c.queue_name), c.queue_id, c.status)
    out[#out + 1] = ""
    if c.file then out[#out + 1] = "Definition: `" .. c.file .. "`" .. "  " end
    if c.error then out[#out + 1] = "**Error:** " .. cell(c.error) .. "  " end
    out[#out + 1] = ""
    if #c.fields_changed > 0 then table_of(out, tables.fields(c)) end
    if #c.members_added + #c.members_removed + #c.ring_numbers > 0 then
      out[#out + 1] = string.format("Members added: %s; removed: %s; ring numbers changed: %d.",
        #c.members_added > 0 and table.concat(c.members_added, ", ") or "none",
        #c.members_removed > 0 and table.concat(c.members_removed, ", ") or "none", #c.ring_numbers)
      out[#out + 1] = ""
    end
    if #c.skill_assignments > 0 then
      out[#out + 1] = string.format("Skills assigned to %d agents.", #c.skill_assignments)
      out[#out + 1] = ""
    end
    if #c.validation_corrections > 0 then table_of(out, tables.corrections(c)) end
  end

  if #doc.flows > 0 then
    out[#out + 1] = "## Flows"
    out[#out + 1] = ""
    table_of(out, tables.flows(doc))
  end
  if #doc.skipped_files > 0 then
    out[#out + 1] = "## Skipped definition files"
    out[#out + 1] = ""
    for _, s in ipairs(doc.skipped_files) do
      out[#out + 1] = "- `" .. s.file .. "`: " .. table.concat(s.errors, "; ")
    end
    out[#out + 1] = ""
  end
  return table.concat(out, "\n")
end

return M
