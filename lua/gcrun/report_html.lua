-- The impact report as one self-contained HTML page for routing
-- administrators and the people they hand it to (a change board, an
-- auditor): the blocks of report_view.lua (the same facts, in the same
-- order, as the Markdown), with the timeline and the graph of what changed
-- where drawn by report_svg.lua. Inline style only: no script, nothing
-- fetched; light, dark (prefers-color-scheme) and print.
local json = require "gcrun.json"
local svg = require "gcrun.report_svg"
local view = require "gcrun.report_view"

local M = {}

local esc = svg.esc

local STYLE = [[
:root{--fg:#1f2328;--muted:#59636e;--bg:#fff;--panel:#f6f8fa;--grid:#d1d9e0;--ok:#1a7f37;--bad:#cf222e;
--warn:#9a6700;--info:#0969da}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--panel:#161b22;
--grid:#3d444d;--ok:#3fb950;--bad:#f85149;--warn:#d29922;--info:#4493f8}}
@media print{:root{--fg:#000;--muted:#444;--bg:#fff;--panel:#f2f2f2;--grid:#bbb;--ok:#1a7f37;--bad:#cf222e;
--warn:#9a6700;--info:#0969da}body{margin:0;max-width:none}h2,h3{break-after:avoid}
table,figure,tr{break-inside:avoid}details{display:none}}
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;color:var(--fg);background:var(--bg);
padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid var(--grid)}
h3{font-size:1.05em;margin:1.6em 0 .4em}
table{border-collapse:collapse;margin:.5em 0 1em}caption{text-align:left;font-weight:600;padding:.2em 0}
th,td{border:1px solid var(--grid);padding:.25em .6em;text-align:left;vertical-align:top}th{background:var(--panel)}
code,.i{font:.9em ui-monospace,monospace;
color:var(--muted)}figure{margin:1em 0}figcaption{color:var(--muted);margin-top:.4em}
.s-updated,ins{color:var(--ok)}.s-failed,.s-interrupted,del{color:var(--bad)}.s-planned{color:var(--info)}
.s-not_started{color:var(--warn)}ins{text-decoration:none}
.alert{border:2px solid var(--bad);border-left-width:.5em;padding:.6em .9em;font-size:1.05em}
section{content-visibility:auto;contain-intrinsic-size:auto 30em}
.cv{content-visibility:auto;contain-intrinsic-size:auto 200em}.cv table{margin:0;width:100%}
.l{white-space:pre-line;border-left:3px solid var(--grid);padding-left:.8em}
]]

-- Text content needs only &, < and > escaped (a large report has many
-- quotes, in JSON values); attributes use svg.esc.
local function text(v)
  local s = svg.esc(v)
  return (s:gsub("&quot;", '"'):gsub("&#39;", "'"))
end

local function inline(piece)
  if piece == nil or piece == json.null then return "" end
  if type(piece) ~= "table" then return text(piece) end
  if piece.code then return "<code>" .. text(piece.code) .. "</code>" end
  if piece.strong then return "<b>" .. text(piece.strong) .. "</b>" end
  if piece.status then return '<span class="s-' .. esc(piece.status) .. '">' .. text(view.plain(piece)) .. "</span>" end
  if piece.add then return "<ins>" .. text(piece.add) .. "</ins>" end
  if piece.remove then return "<del>" .. text(piece.remove) .. "</del>" end
  if piece.after then return text(view.plain(piece)) end
  local out = {}
  for _, p in ipairs(piece) do out[#out + 1] = inline(p) end
  return table.concat(out)
end

-- A cell: an identifier is monospace (a class: cheaper to match than
-- td:nth-child).
local function cell(piece, mono)
  return (mono and '<td class="i">' or "<td>") .. inline(piece)
end

-- Rows of a table kept in one chunk: a longer table (the queues of a
-- large run) is cut into chunks, each with the header again, that the
-- browser lays out only when scrolled to (content-visibility, class cv):
-- one table of 1,000 rows cost a 1,000-queue report's load 0.3 to 0.4 s.
local CHUNK = 100

-- Cells and rows without their optional end tags (HTML allows it): a
-- 1,000-queue report has tens of thousands of them.
local function table_of(out, header, rows, caption, mono)
  local heads = {}
  for i, h in ipairs(header) do heads[i] = text(h) end
  local open = "<table>" .. (caption and ("<caption>" .. text(caption) .. "</caption>") or "")
  local head = "<tr><th>" .. table.concat(heads, "<th>")
  local chunked = #rows > CHUNK
  for first = 1, math.max(#rows, 1), CHUNK do
    out[#out + 1] = (chunked and '<div class="cv">' or "") .. (first == 1 and open or open:gsub("<caption>.*", ""))
      .. head
    for k = first, math.min(first + CHUNK - 1, #rows) do
      local r, cells = rows[k], {}
      for i = 1, #header do cells[i] = cell(r[i], i == mono) end
      out[#out + 1] = "<tr>" .. table.concat(cells)
    end
    out[#out + 1] = chunked and "</table></div>" or "</table>"
  end
end

-- A large run's queue sections, compact: each queue's changes as lines of
-- text in one paragraph (white-space: pre-line), a line per field (before
-- → after), per agent (id, + added with its ring or − removed, ring and
-- skill levels before → after) and per correction. The browser's time for
-- a 1,000-queue report went mostly to building its elements (about 90 a
-- queue as tables, 8 as lines: a load of 1.1 s against 0.6 s, measured in
-- README's impact-report section); a small run keeps its tables.
local LARGE_RUN = 100

local LEGEND = "Each queue below: its fields that changed (before → after), then a line per agent whose "
  .. "membership or skills changed (name (id): + added with its ring, − removed, ring and skill levels before → "
  .. "after), its corrections and its flows."

local plain = view.plain

local function agent_line(header, r, skill_columns)
  local parts, m = {}, r[3]
  if type(m) == "table" then
    parts[1] = m.add and ("+ " .. m.add) or m.remove and ("− " .. m.remove) or plain(m)
  end
  for k = 4, #header do
    local c = r[k]
    if c ~= nil and c ~= "" then parts[#parts + 1] = (skill_columns and (header[k] .. " ") or "") .. plain(c) end
  end
  return plain(r[1]) .. " (" .. plain(r[2]) .. "): " .. table.concat(parts, "; ")
end

local function compact_lines(lines, b)
  for _, r in ipairs(b[3]) do
    if b.kind == "fields" then
      lines[#lines + 1] = text(plain(r[1]) .. ": " .. plain(r[2]) .. " → " .. plain(r[3]))
    elseif b.kind == "agents" then
      lines[#lines + 1] = text(agent_line(b[2], r, b.skill_columns))
    else
      lines[#lines + 1] = text(b[2][1] .. " " .. plain(r[1]) .. " (" .. plain(r[2]) .. "): " .. plain(r[3]))
    end
  end
end

-- The timeline's numbers, bucket by bucket (the buckets with requests).
local function timeline_table(out, tl)
  local s, w = tl.series, tl.bucket_seconds
  local rows = {}
  for i = 1, tl.buckets do
    local total = s.answered[i] + s.throttled[i] + s.server_error[i] + s.dropped[i]
    if total > 0 then
      local left = s.budget_left[i]
      rows[#rows + 1] = { string.format("%.2f", (i - 1) * w), s.answered[i], s.throttled[i], s.server_error[i],
        s.dropped[i], s.retries[i], left == json.null and "" or left }
    end
  end
  out[#out + 1] = "<details><summary>The timeline as a table</summary>"
  table_of(out, { "From (s)", "Answered", "429", "5xx", "Dropped", "Retries", "Budget left" }, rows)
  out[#out + 1] = "</details>"
end

local function picture(out, b)
  out[#out + 1] = "<figure>"
  out[#out + 1] = b[2] == "timeline" and svg.timeline(b[3]) or svg.graph(b[3])
  out[#out + 1] = "<figcaption>"
  if b.text then out[#out + 1] = "<p>" .. text(table.concat(b.text, " ")) .. "</p>" end
  if b.items then
    out[#out + 1] = "<ul>"
    for _, item in ipairs(b.items) do out[#out + 1] = "<li>" .. inline(item) .. "</li>" end
    out[#out + 1] = "</ul>"
  end
  out[#out + 1] = "</figcaption></figure>"
  if b[2] == "timeline" then timeline_table(out, b[3]) end
end

function M.render(doc)
  local out = { "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width,initial-scale=1">',
    '<meta name="color-scheme" content="light dark">',
    "<title>Queue impact report " .. esc(doc.generated_at) .. "</title><style>" .. STYLE .. svg.STYLE
      .. "</style></head><body>" }
  local large, lines, legend = #doc.changes > LARGE_RUN, nil, false
  for _, b in ipairs(view.build(doc)) do
    local kind = b[1]
    if lines and not (kind == "table" and b.kind) then
      out[#out + 1] = '<p class="l">' .. table.concat(lines, "\n") .. "</p>"
      lines = nil
    end
    if kind == "h" then
      out[#out + 1] = string.format("<h%d%s>%s</h%d>", b[2], b.id and (' id="' .. esc(b.id) .. '"') or "",
        inline(b[3]), b[2])
    elseif kind == "p" or kind == "alert" then
      local parts = {}
      for i = 2, #b do parts[#parts + 1] = inline(b[i]) end
      out[#out + 1] = (kind == "alert" and '<p class="alert" role="alert">' or "<p>") .. table.concat(parts) .. "</p>"
    elseif kind == "table" and large and b.kind then
      lines = lines or {}
      compact_lines(lines, b)
    elseif kind == "table" then
      table_of(out, b[2], b[3], b.caption, b.mono)
    elseif kind == "list" then
      out[#out + 1] = "<ul>"
      for _, item in ipairs(b[2]) do out[#out + 1] = "<li>" .. inline(item) .. "</li>" end
      out[#out + 1] = "</ul>"
    elseif kind == "picture" then
      picture(out, b)
    elseif kind == "section" then
      if large and not legend then
        legend = true
        out[#out + 1] = "<p>" .. LEGEND .. "</p>"
      end
      out[#out + 1] = "<section>"
    elseif kind == "end" then
      out[#out + 1] = "</section>"
    end
  end
  out[#out + 1] = "</body></html>\n"
  return table.concat(out, "\n")
end

return M
