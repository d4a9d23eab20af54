-- The pictures of the HTML impact report, drawn as inline SVG from the
-- report's own data (doc.timeline, doc.graph): the run's timeline and the
-- graph of what changed where. No script, nothing fetched; colours come
-- from the page's CSS classes (M.STYLE), so dark mode and print apply.
-- Edit this file to change how the pictures look.
local json = require "gcrun.json"
local textutil = require "gcrun.text"
local timeline = require "gcrun.timeline"
local view = require "gcrun.report_view"

local M = { WIDTH = 960, GRAPH_MAX_QUEUES = 60 }

-- Colours: Okabe-Ito, which stays apart for colour-blind readers.
M.STYLE = [[
svg.pic{width:100%;height:auto;font:11px system-ui,sans-serif}
svg.pic text{fill:var(--fg)}svg.pic .mut{fill:var(--muted)}svg.pic .ax{stroke:var(--grid);stroke-width:1}
.o-answered{fill:#009e73}.o-throttled{fill:#e69f00}.o-server_error{fill:#d55e00}.o-dropped{fill:#cc79a7}
.retries{fill:none;stroke:var(--fg);stroke-width:2}
.budget{fill:none;stroke:#0072b2;stroke-width:2}.allowed{stroke:#0072b2;stroke-dasharray:6 4;stroke-width:1}
.w-pacing{fill:#e69f00}.w-retry_after{fill:#f0e442}.w-backoff{fill:#d55e00}.w-lock{fill:#cc79a7}
.w-conflict{fill:#56b4e9}.w-lag,.w-sleep{fill:#999}.shade{opacity:.13}
.k-reads{fill:#56b4e9}.k-queue_writes{fill:#009e73}.k-skills{fill:#e69f00}.k-flows{fill:#cc79a7}.k-other{fill:#999}
.ph{fill:var(--panel);stroke:var(--grid)}.hit{fill:transparent}.hit:hover{fill:var(--fg);opacity:.08}
.node{fill:var(--bg);stroke:var(--grid);stroke-width:1.2}.node.s-updated{stroke:#009e73}
.node.s-failed,.node.s-interrupted{stroke:#d55e00;stroke-width:2}.node.s-planned{stroke:#0072b2}
.edge{fill:none;stroke:var(--muted);stroke-width:1.2;opacity:.7}.edge.s-failed,.edge.s-interrupted{stroke:#d55e00}
.dot.s-updated{fill:#009e73}.dot.s-planned{fill:#0072b2}.dot.s-failed,.dot.s-interrupted{fill:#d55e00}
.dot.s-unchanged{fill:var(--muted)}.bar{fill:#0072b2}
]]

local OUTCOME_NAMES = { answered = "answered", throttled = "answered 429", server_error = "answered 5xx",
  dropped = "no answer (dropped)" }
local KIND_NAMES = { reads = "reads", queue_writes = "queue writes", skills = "agents' skills", flows = "flows",
  other = "other" }
local OUTCOMES, KINDS, WAIT_ORDER = timeline.OUTCOMES, timeline.KINDS, timeline.WAITS
local WAIT_LABELS = { pacing = "pacing", retry_after = "Retry-After", backoff = "backoff", lock = "lock waits",
  conflict = "stale versions", lag = "catching up", sleep = "other waits" }

-- Text for XML: escaped, without the control characters XML forbids, and
-- valid UTF-8 (other bytes become '?').
local function esc(v)
  local s = tostring(v == nil and "" or v)
  if not utf8.len(s) then s = s:gsub("[\128-\255]", "?") end
  s = textutil.visible_bidi((s:gsub("[%z\1-\8\11-\31\127]", "")))
  return (s:gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }))
end
M.esc = esc

-- At most n characters (UTF-8 aware), with an ellipsis when cut.
local function clip(s, n)
  s = tostring(s or "")
  local len = utf8.len(s)
  if not len or len <= n then return s end
  return s:sub(1, utf8.offset(s, n) - 1) .. "…"
end

local function num(x)
  if math.type(x) == "integer" then return tostring(x) end
  local s = string.format("%.1f", x)
  return (s:gsub("%.0$", ""))
end

-- A tick step of 1, 2 or 5 times a power of ten giving about `count` ticks.
local function step_for(max, count)
  local raw = max / count
  local p = 10 ^ math.floor(math.log(raw, 10))
  for _, m in ipairs { 1, 2, 5, 10 } do
    if m * p >= raw then return m * p end
  end
  return 10 * p
end

local function seconds_label(t, step)
  if step < 1 then
    local decimals = math.min(4, math.ceil(-math.log(step, 10) - 1e-9))
    return string.format("%." .. decimals .. "f s", t)
  end
  if t >= 120 and step >= 60 then return string.format("%d min", math.floor(t / 60 + 0.5)) end
  return string.format("%d s", math.floor(t + 0.5))
end

local function open_svg(out, id, height, title, desc)
  out[#out + 1] = string.format('<svg class="pic" role="img" aria-labelledby="%s-t %s-d" viewBox="0 0 %d %d" '
    .. 'width="%d" height="%d"><title id="%s-t">%s</title><desc id="%s-d">%s</desc>', id, id, M.WIDTH, height,
    M.WIDTH, height, id, esc(title), id, esc(desc))
end

local function value_at(col, i)
  local v = col and col[i]
  if v == nil or v == json.null then return nil end
  return v
end

---------------------------------------------------------------- timeline

-- timeline(tl [, id]) -> an SVG element: requests a second by outcome
-- (stacked bars), retries (dashed), the advertised rate budget left, the
-- waits as shaded spans, the phases and what the requests were for.
function M.timeline(tl, id)
  id = id or "timeline"
  local W, L, R = M.WIDTH, 112, 16
  local PW = W - L - R
  local n, w = tl.buckets, tl.bucket_seconds
  local T = math.max(n * w, 1e-3)
  local s = tl.series
  local function x(t) return L + math.min(t, T) / T * PW end
  local body = {}
  local function add(fmt, ...) body[#body + 1] = string.format(fmt, ...) end
  local function label(y, text) add('<text x="%d" y="%s" text-anchor="end">%s</text>', L - 8, num(y), esc(text)) end

  -- phases
  local y = 4
  label(y + 13, "phases")
  for _, p in ipairs(tl.phases or {}) do
    local x0, x1 = x(p.from), x(p.to)
    add('<rect class="ph" x="%s" y="%d" width="%s" height="18"><title>%s</title></rect>', num(x0), y,
      num(math.max(1, x1 - x0)), esc(string.format("%s: %.2f s to %.2f s", p.name, p.from, p.to)))
    if (x1 - x0) > #p.name * 6.5 + 6 then
      add('<text x="%s" y="%d" text-anchor="middle">%s</text>', num((x0 + x1) / 2), y + 13, esc(p.name))
    end
  end

  -- requests a second, stacked by outcome
  local top, CH = 46, 150
  local ymax = 0
  for i = 1, n do
    local total = 0
    for _, o in ipairs(OUTCOMES) do total = total + s[o][i] end
    ymax = math.max(ymax, total / w, s.retries[i] / w)
  end
  if ymax == 0 then ymax = 1 end
  local ystep = step_for(ymax, 4)
  ymax = math.ceil(ymax / ystep) * ystep
  local function yr(v) return top + CH - v / ymax * CH end
  for v = 0, ymax + ystep / 2, ystep do
    add('<line class="ax" x1="%d" x2="%d" y1="%s" y2="%s"/>', L, W - R, num(yr(v)), num(yr(v)))
    add('<text class="mut" x="%d" y="%s" text-anchor="end">%s</text>', L - 8, num(yr(v) + 4), num(v))
  end
  label(top - 10, "requests a second")
  -- the spans of one kind of wait as one path (a long run has hundreds)
  local function spans_path(class, list, y0, height)
    local d = {}
    for _, span in ipairs(list) do
      d[#d + 1] = string.format("M%s %sh%sv%dH%sz", num(x(span.from)), y0, num(math.max(1, x(span.to) - x(span.from))),
        height, num(x(span.from)))
    end
    if #d > 0 then add('<path class="%s" d="%s"/>', class, table.concat(d)) end
  end
  local spans = {}
  for _, span in ipairs(tl.waits or {}) do
    spans[span.reason] = spans[span.reason] or {}
    table.insert(spans[span.reason], span)
  end
  for _, reason in ipairs { "pacing", "retry_after" } do
    spans_path("w-" .. reason .. " shade", spans[reason] or {}, top, CH)
  end
  local bw = PW / n
  local gap = bw > 4 and 1 or 0
  for i = 1, n do
    local base = 0
    local x0 = L + (i - 1) * bw
    local tip = {}
    for _, o in ipairs(OUTCOMES) do
      local c = s[o][i]
      if c > 0 then
        local v0, v1 = base, base + c / w
        add('<rect class="o-%s" x="%s" y="%s" width="%s" height="%s"/>', o, num(x0), num(yr(v1)),
          num(math.max(0.5, bw - gap)), num(yr(v0) - yr(v1)))
        base = v1
        tip[#tip + 1] = string.format("%d %s", c, OUTCOME_NAMES[o])
      end
    end
    if #tip > 0 then
      if s.retries[i] > 0 then tip[#tip + 1] = string.format("%d retries", s.retries[i]) end
      local lat = value_at(s.latency_ms, i)
      if lat then tip[#tip + 1] = string.format("mean answer %d ms", lat) end
      add('<rect class="hit" x="%s" y="%d" width="%s" height="%d"><title>%s</title></rect>', num(x0), top,
        num(bw), CH, esc(string.format("%.2f–%.2f s: %s", (i - 1) * w, i * w, table.concat(tip, ", "))))
    end
  end
  -- retries a second, a mark per bucket that had any
  local marks = {}
  for i = 1, n do
    if s.retries[i] > 0 then
      marks[#marks + 1] = string.format("M%s %sh%s", num(L + (i - 1) * bw), num(yr(s.retries[i] / w)),
        num(math.max(2, bw - gap)))
    end
  end
  if #marks > 0 then add('<path class="retries" d="%s"/>', table.concat(marks)) end

  -- the rate budget the service advertised
  y = top + CH + 24
  local BH = 56
  local allowed = 0
  for i = 1, n do allowed = math.max(allowed, value_at(s.budget_allowed, i) or 0) end
  label(y + BH / 2 + 4, "budget left")
  add('<line class="ax" x1="%d" x2="%d" y1="%d" y2="%d"/>', L, W - R, y + BH, y + BH)
  if allowed > 0 then
    local function yb(v) return y + BH - v / allowed * BH end
    add('<line class="allowed" x1="%d" x2="%d" y1="%d" y2="%d"/>', L, W - R, y, y)
    add('<text class="mut" x="%d" y="%d" text-anchor="end">allowed %d a window</text>', W - R, y - 3, allowed)
    -- a step line: between answers the budget stays what the last one said
    local d = {}
    for i = 1, n do
      local v = value_at(s.budget_left, i)
      if v then
        local x0, yv = num(L + (i - 1) * bw), num(yb(v))
        d[#d + 1] = #d == 0 and ("M" .. x0 .. " " .. yv) or ("H" .. x0 .. "V" .. yv)
      end
    end
    if #d > 0 then d[#d + 1] = "H" .. (W - R) end
    if #d > 0 then add('<path class="budget" d="%s"/>', table.concat(d, " ")) end
  else
    add('<text class="mut" x="%d" y="%d">the service advertised no rate budget</text>', L + 6, y + BH - 8)
  end
  y = y + BH + 14

  -- waits, one lane per kind of wait that happened
  for _, reason in ipairs(WAIT_ORDER) do
    if spans[reason] then
      label(y + 11, WAIT_LABELS[reason])
      add('<line class="ax" x1="%d" x2="%d" y1="%d" y2="%d"/>', L, W - R, y + 7, y + 7)
      spans_path("w-" .. reason, spans[reason], y, 14)
      y = y + 18
    end
  end

  -- what the requests were for, darker where there were more
  for _, kind in ipairs(KINDS) do
    local col, most = s[kind], 0
    for i = 1, n do most = math.max(most, col[i]) end
    if most > 0 or kind ~= "other" then
      label(y + 11, KIND_NAMES[kind])
      add('<line class="ax" x1="%d" x2="%d" y1="%d" y2="%d"/>', L, W - R, y + 7, y + 7)
      for i = 1, n do
        if col[i] > 0 then
          add('<rect class="k-%s" x="%s" y="%d" width="%s" height="14" opacity="%.2f"/>', kind,
            num(L + (i - 1) * bw), y, num(bw), 0.25 + 0.75 * col[i] / most)
        end
      end
      y = y + 18
    end
  end

  -- time axis
  local tstep = step_for(T, 8)
  add('<line class="ax" x1="%d" x2="%d" y1="%d" y2="%d"/>', L, W - R, y, y)
  for t = 0, T + tstep / 1000, tstep do
    add('<line class="ax" x1="%s" x2="%s" y1="%d" y2="%d"/>', num(x(t)), num(x(t)), y, y + 4)
    add('<text class="mut" x="%s" y="%d" text-anchor="middle">%s</text>', num(x(t)), y + 16, seconds_label(t, tstep))
  end
  y = y + 34

  -- legend
  local lx = L
  local function key(swatch, text)
    local wdt = #text * 6.2 + 30
    if lx + wdt > W - R then lx, y = L, y + 18 end
    add(swatch, lx, y - 9)
    add('<text x="%s" y="%d">%s</text>', num(lx + 18), y, esc(text))
    lx = lx + wdt
  end
  local rect = '<rect class="%s" x="%%s" y="%%s" width="12" height="10"/>'
  for _, o in ipairs(OUTCOMES) do
    key(string.format(rect, "o-" .. o), OUTCOME_NAMES[o])
  end
  key('<path class="retries" d="M%s %s m0 5 h14"/>', "retries a second")
  key('<path class="budget" d="M%s %s m0 5 h14"/>', "budget left")
  for _, reason in ipairs(WAIT_ORDER) do
    if spans[reason] then key(string.format(rect, "w-" .. reason), "waiting: " .. WAIT_LABELS[reason]) end
  end
  local height = y + 10

  local out = {}
  local summary = view.timeline_summary(tl)
  open_svg(out, id, height, "Timeline of the run: requests a second by outcome, the rate budget left, "
    .. "waits and phases", table.concat(summary, " "))
  for _, b in ipairs(body) do out[#out + 1] = b end
  out[#out + 1] = "</svg>"
  return table.concat(out, "\n")
end

---------------------------------------------------------------- graph

-- The order of queues that keeps edges short: each flow's queues
-- together, flows in report order, queues without flows last.
local function queue_order(g)
  local placed, order, by_id = {}, {}, {}
  for _, q in ipairs(g.queues) do by_id[q.id] = q end
  for _, f in ipairs(g.flows) do
    for _, e in ipairs(g.edges) do
      if e.flow == f.id and not placed[e.queue] and by_id[e.queue] then
        placed[e.queue] = true
        order[#order + 1] = by_id[e.queue]
      end
    end
  end
  for _, q in ipairs(g.queues) do
    if not placed[q.id] then order[#order + 1] = q end
  end
  return order
end

local function flow_detail(f)
  local parts = {}
  local function known(x) return x ~= nil and x ~= json.null end
  if known(f.old_version) and known(f.new_version) then
    parts[#parts + 1] = string.format("v%s → v%s", f.old_version, f.new_version)
  elseif known(f.old_version) then
    parts[#parts + 1] = "v" .. tostring(f.old_version)
  end
  if (f.lock_waits or 0) > 0 then
    parts[#parts + 1] = string.format("%d lock wait%s", f.lock_waits, f.lock_waits == 1 and "" or "s")
  end
  parts[#parts + 1] = f.status
  return table.concat(parts, " · ")
end

local function graph_full(g, body)
  local function add(fmt, ...) body[#body + 1] = string.format(fmt, ...) end
  local QX, QW, FX, FW, RH, FH, TOP = 8, 300, 600, 352, 26, 40, 28
  add('<text class="mut" x="%d" y="16">Queues changed</text>', QX)
  add('<text class="mut" x="%d" y="16">Flows edited</text>', FX)
  local centre, bottom = {}, TOP
  for k, q in ipairs(queue_order(g)) do
    local y = TOP + (k - 1) * RH
    centre[q.id] = y + 10
    add('<g><title>%s</title><rect class="node q s-%s" x="%d" y="%d" width="%d" height="20" rx="4"/>'
      .. '<circle class="dot s-%s" cx="%d" cy="%d" r="4"/><text x="%d" y="%d">%s</text></g>',
      esc(string.format("%s (%s): %s", q.name or q.id, q.id, q.status)), esc(q.status), QX, y, QW, esc(q.status),
      QX + 10, y + 10, QX + 20, y + 14, esc(clip(q.name or q.id, 44)))
    bottom = y + 20
  end
  -- each flow level with the middle of its queues, pushed down past the one above
  local targets = {}
  for i, f in ipairs(g.flows) do
    local sum, count = 0, 0
    for _, e in ipairs(g.edges) do
      if e.flow == f.id and centre[e.queue] then sum, count = sum + centre[e.queue], count + 1 end
    end
    targets[#targets + 1] = { f = f, want = count > 0 and sum / count or TOP, i = i }
  end
  table.sort(targets, function(a, b) return a.want < b.want or (a.want == b.want and a.i < b.i) end)
  local fy, next_free = {}, TOP
  for _, t in ipairs(targets) do
    local y = math.max(next_free, t.want - FH / 2)
    fy[t.f.id] = y
    next_free = y + FH + 10
  end
  for _, e in ipairs(g.edges) do
    local y1, f = centre[e.queue], nil
    for _, x in ipairs(g.flows) do if x.id == e.flow then f = x end end
    if y1 and f then
      local y2, mid = fy[f.id] + FH / 2, (QX + QW + FX) / 2
      add('<path class="edge s-%s" d="M%d %s C%s %s %s %s %d %s"><title>%s</title></path>', esc(f.status), QX + QW,
        num(y1), num(mid), num(y1), num(mid), num(y2), FX, num(y2), esc(string.format("queue %s → flow %s",
          e.queue, f.name or f.id)))
    end
  end
  for _, f in ipairs(g.flows) do
    local y = fy[f.id]
    add('<g><title>%s</title><rect class="node f s-%s" x="%d" y="%s" width="%d" height="%d" rx="6"/>'
      .. '<text x="%d" y="%s">%s</text><text class="mut" x="%d" y="%s">%s</text></g>',
      esc(string.format("%s (%s): %s", f.name or f.id, f.id, flow_detail(f))), esc(f.status), FX, num(y), FW, FH,
      FX + 10, num(y + 16), esc(clip(f.name or f.id, 50)), FX + 10, num(y + 32), esc(flow_detail(f)))
    bottom = math.max(bottom, y + FH)
  end
  return bottom + 8
end

-- Too many queues to draw one by one: a bar per flow, as long as the
-- number of its queues (the text equivalent still lists them all).
local function graph_bars(g, body)
  local function add(fmt, ...) body[#body + 1] = string.format(fmt, ...) end
  local counts, most = {}, 1
  for _, e in ipairs(g.edges) do counts[e.flow] = (counts[e.flow] or 0) + 1 end
  for _, c in pairs(counts) do most = math.max(most, c) end
  add('<text class="mut" x="8" y="16">Flows edited, with the number of changed queues routed through each '
    .. '(%s, %s)</text>', textutil.plural(#g.queues, "queue"), textutil.plural(#g.flows, "flow"))
  local y = 28
  for _, f in ipairs(g.flows) do
    local c = counts[f.id] or 0
    add('<circle class="dot s-%s" cx="14" cy="%d" r="4"/><text x="24" y="%d">%s</text>'
      .. '<text class="mut" x="330" y="%d">%s</text><rect class="bar" x="600" y="%d" width="%s" height="14"/>'
      .. '<text x="%s" y="%d">%d</text>', esc(f.status), y + 7, y + 11, esc(clip(f.name or f.id, 40)), y + 11,
      esc(flow_detail(f)), y, num(math.max(1, 300 * c / most)), num(606 + 300 * c / most), y + 11, c)
    y = y + 20
  end
  return y + 4
end

-- graph(g [, id]) -> an SVG element: changed queues on the left, the flows
-- edited for them on the right, an edge per queue routed through a flow.
function M.graph(g, id)
  id = id or "graph"
  local body = {}
  local height
  if #g.queues <= M.GRAPH_MAX_QUEUES then height = graph_full(g, body) else height = graph_bars(g, body) end
  local desc = {}
  for _, item in ipairs(view.graph_summary(g)) do desc[#desc + 1] = view.plain(item) end
  local out = {}
  open_svg(out, id, height, string.format("What changed where: %s changed, %s edited, %s",
    textutil.plural(#g.queues, "queue"), textutil.plural(#g.flows, "flow"),
    textutil.plural(#g.edges, "queue-to-flow edge")), table.concat(desc, ". "))
  for _, b in ipairs(body) do out[#out + 1] = b end
  out[#out + 1] = "</svg>"
  return table.concat(out, "\n")
end

return M
