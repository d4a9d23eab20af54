-- The impact report as Markdown, for routing administrators to read or
-- paste into a change ticket: the blocks of report_view.lua (the same
-- facts, in the same order, as the HTML page), with the pictures given as
-- their text equivalents.
local text = require "gcrun.text"
local view = require "gcrun.report_view"

local M = {}

-- Text from the org or the files (names, messages) shows as written:
-- Markdown passes HTML through, so a queue named "<img src=x onerror=...>"
-- would otherwise be markup wherever the report is shown. A lone & stays
-- readable; one that would start an entity (&lt; &#60;) is escaped. Code
-- spans show their text as is, HTML included, so they need none of this.
local HTML = { ["<"] = "&lt;", [">"] = "&gt;" }

local function escape(s, in_table, in_code)
  -- and no control character reaches the terminal or page it is shown on
  s = text.printable((tostring(s):gsub("[\r\n]", " ")))
  if not in_code then s = s:gsub("&(#?%w+;)", "&amp;%1"):gsub("[<>]", HTML) end
  if in_table then s = s:gsub("|", "\\|") end
  return s
end

local function inline(piece, in_table)
  if piece == nil then return "" end
  if type(piece) ~= "table" then return escape(piece, in_table) end
  if piece.code then return "`" .. escape(piece.code, in_table, true):gsub("`", "'") .. "`" end
  if piece.strong then return "**" .. escape(piece.strong, in_table) .. "**" end
  if piece.status or piece.add or piece.remove or piece.after then return escape(view.plain(piece), in_table) end
  local out = {}
  for _, p in ipairs(piece) do out[#out + 1] = inline(p, in_table) end
  return table.concat(out)
end

local function pieces(block, from)
  local out = {}
  for i = from, #block do out[#out + 1] = inline(block[i]) end
  return table.concat(out)
end

local function table_of(out, header, rows, caption, mono)
  if caption then out[#out + 1] = caption .. ":"; out[#out + 1] = "" end
  out[#out + 1] = "| " .. table.concat(header, " | ") .. " |"
  out[#out + 1] = "|" .. string.rep(" --- |", #header)
  for _, r in ipairs(rows) do
    local cells = {}
    for i = 1, #header do cells[i] = inline(i == mono and r[i] and { code = r[i] } or r[i], true) end
    out[#out + 1] = "| " .. table.concat(cells, " | ") .. " |"
  end
  out[#out + 1] = ""
end

local NOTES = {
  timeline = "The HTML report draws this timeline; the JSON report's `timeline` holds its series.",
  graph = "The HTML report draws these flows and queues as a graph; the JSON report's `graph` holds it.",
}

function M.render(doc)
  local out = {}
  for _, b in ipairs(view.build(doc)) do
    local kind = b[1]
    if kind == "h" then
      out[#out + 1] = string.rep("#", b[2]) .. " " .. inline(b[3])
      out[#out + 1] = ""
    elseif kind == "p" then
      out[#out + 1] = pieces(b, 2)
      out[#out + 1] = ""
    elseif kind == "alert" then
      out[#out + 1] = "> **Warning:** " .. pieces(b, 2)
      out[#out + 1] = ""
    elseif kind == "table" then
      table_of(out, b[2], b[3], b.caption, b.mono)
    elseif kind == "list" then
      for _, item in ipairs(b[2]) do out[#out + 1] = "- " .. inline(item) end
      out[#out + 1] = ""
    elseif kind == "picture" then
      if b.text then out[#out + 1] = inline(table.concat(b.text, " ")) end
      for _, item in ipairs(b.items or {}) do out[#out + 1] = "- " .. inline(item) end
      out[#out + 1] = ""
      out[#out + 1] = "_" .. NOTES[b[2]] .. "_"
      out[#out + 1] = ""
    end
  end
  return table.concat(out, "\n")
end

return M
