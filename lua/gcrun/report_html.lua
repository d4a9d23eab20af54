-- The impact report as one self-contained HTML page (inline style, no
-- scripts, nothing fetched), for routing administrators.
local json = require "gcrun.json"
local tables = require("gcrun.report").tables

local M = {}

local function esc(v)
  if v == nil or v == json.null then return "" end
  if type(v) == "table" then v = json.encode(v) end
  return (tostring(v):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;",
    ["'"] = "&#39;" }))
end

local STYLE = [[
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;color:#1b1f24;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em}h3{font-size:1.05em;margin:1.4em 0 .4em}
table{border-collapse:collapse;margin:.5em 0 1em}th,td{border:1px solid #d0d7de;padding:.3em .6em;text-align:left;
vertical-align:top}th{background:#f6f8fa}code{font-size:.92em}.s-updated{color:#1a7f37}.s-failed{color:#cf222e}
.s-interrupted{color:#9a6700}.muted{color:#57606a}.dry{background:#fff8c5;padding:.4em .8em;border-radius:4px}
]]

local function tbl(out, header, rows)
  out[#out + 1] = "<table><tr>"
  for _, h in ipairs(header) do out[#out + 1] = "<th>" .. esc(h) .. "</th>" end
  out[#out + 1] = "</tr>"
  for _, r in ipairs(rows) do
    out[#out + 1] = "<tr>"
    for i = 1, #header do out[#out + 1] = "<td>" .. (r.raw and r[i] or esc(r[i])) .. "</td>" end
    out[#out + 1] = "</tr>"
  end
  out[#out + 1] = "</table>"
end

function M.render(doc)
  local run = doc.run
  local out = { "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
    "<title>Queue impact report " .. esc(doc.generated_at) .. "</title><style>" .. STYLE .. "</style></head><body>",
    "<h1>Queue impact report</h1>",
    string.format('<p class="muted">Generated %s by gcrun %s against %s (%s API). Run status <b>%s</b>, %.1f s, '
      .. "%d requests (%d retries, %d answered 429).</p>", esc(doc.generated_at), esc(run.gcrun_version),
      esc(run.target), esc(run.dialect), esc(run.status), run.duration_seconds, run.requests, run.retries,
      run.throttled) }
  if run.dry_run then out[#out + 1] = '<p class="dry">Dry run: nothing was changed.</p>' end
  local counts = {}
  for k, v in pairs(run.counts) do counts[#counts + 1] = { k, v } end
  table.sort(counts, function(a, b) return a[1] < b[1] end)
  counts[#counts + 1] = { "flows updated", run.flows_updated }
  tbl(out, { "Status", "Count" }, counts)

  out[#out + 1] = "<h2>Queues</h2>"
  local header, rows = tables.queues(doc)
  for _, r in ipairs(rows) do   -- ids in code, statuses coloured
    r[2] = "<code>" .. esc(r[2]) .. "</code>"
    r[3] = '<span class="s-' .. esc(r[3]) .. '">' .. esc(r[3]) .. "</span>"
    for i = 4, #r do r[i] = esc(r[i]) end
    r[1], r.raw = esc(r[1]), true
  end
  tbl(out, header, rows)
  for _, c in ipairs(doc.changes) do
    out[#out + 1] = string.format("<h3>%s <span class=\"muted\">%s</span></h3>", esc(c.queue_name), esc(c.status))
    if c.error then out[#out + 1] = "<p><b>Error:</b> " .. esc(c.error) .. "</p>" end
    if #c.fields_changed > 0 then tbl(out, tables.fields(c)) end
    if #c.members_added + #c.members_removed + #c.ring_numbers + #c.skill_assignments > 0 then
      out[#out + 1] = string.format("<p>Members added %d, removed %d; ring numbers changed %d; skills assigned to %d "
        .. "agents.</p>", #c.members_added, #c.members_removed, #c.ring_numbers, #c.skill_assignments)
    end
    if #c.validation_corrections > 0 then tbl(out, tables.corrections(c)) end
  end
  if #doc.flows > 0 then
    out[#out + 1] = "<h2>Flows</h2>"
    tbl(out, tables.flows(doc))
  end
  if #doc.skipped_files > 0 then
    out[#out + 1] = "<h2>Skipped definition files</h2><ul>"
    for _, s in ipairs(doc.skipped_files) do
      out[#out + 1] = "<li><code>" .. esc(s.file) .. "</code>: " .. esc(table.concat(s.errors, "; ")) .. "</li>"
    end
    out[#out + 1] = "</ul>"
  end
  out[#out + 1] = "</body></html>\n"
  return table.concat(out, "\n")
end

return M
