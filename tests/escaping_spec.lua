-- Text from outside (a server's names and messages, file names) reaches
-- no terminal, page or report with its control characters live: no
-- escape sequence, no forged line, no bidirectional reordering.
local h = require "tests.helpers"
local json = require "gcrun.json"
local text = require "gcrun.text"

-- a raw control character (C0 but newline, DEL, C1) or bidirectional control
local function raw_control(s)
  if s:find("[%z\1-\9\11-\31\127]") then return true end
  for _, cp in utf8.codes(s, true) do
    if (cp >= 0x80 and cp <= 0x9f) or text.is_bidi(cp) then return true end
  end
  return false
end

describe("escaping", function()
  it("writes the bidirectional controls as \\u{...}", function()
    assert.equal("a\\u{202e}b\\u{2066}c\\u{2069}d\\u{61c}e\\u{200f}", text.printable("a\u{202e}b\u{2066}c\u{2069}d\u{61c}e\u{200f}"))
    assert.equal("x\\u{202a}y é", text.visible_bidi("x\u{202a}y é"))
    assert.equal("Café – 東京", text.printable("Café – 東京"))
  end)

  describe("in reports", function()
    local sb, dir
    before_each(function()
      sb = h.sandbox()
      dir = h.tmpdir()
    end)
    after_each(function()
      sb.stop()
      h.rmtree(dir)
    end)

    it("leaves no control character raw in the Markdown and HTML reports", function()
      local org = sb.org()
      h.write(dir .. "/q.json", json.encode { queue_id = org.queues[1].id,
        name = "Sales\27]0;owned\7\r\nforged \u{202e}evil" })
      h.write(dir .. "/bad\27[31m.json", '{"queue_id": 5}')
      local r = sb.run { "queue-sync", "--keep-going", "--report", dir .. "/r.md", dir }
      assert.equal(1, r.status, r.stderr)
      local md = h.read(dir .. "/r.md")
      assert.is_false(raw_control(md))
      assert.truthy(md:find("Sales\\e]0;owned\\x07", 1, true))
      assert.truthy(md:find("bad\\e[31m.json", 1, true))
      assert.truthy(md:find("forged \\u{202e}evil", 1, true))
      assert.equal(1, sb.run({ "queue-sync", "--keep-going", "--report", dir .. "/r.html", dir }).status)
      local page = h.read(dir .. "/r.html")
      assert.is_false(raw_control(page))
      assert.truthy(page:find("\\u{202e}evil", 1, true))
    end)
  end)

  it("keeps the error line of --debug one line", function()
    local r = h.run { "--debug", "-e", 'error("first\\nforged: line")' }
    assert.equal(1, r.status, r.stderr)
    assert.is_nil(r.stderr:find("\nforged", 1, true), r.stderr)
    assert.truthy(r.stderr:find("first\\nforged: line\nstack traceback:", 1, true), r.stderr)
  end)

  it("gives scripts a print that escapes all but line breaks and tabs; io.write stays raw", function()
    local r = h.run { "-e", 'print("a\\27]0;x\\7b", "t\\tab\\nline2 \\u{202e}z", 3, nil); io.write("raw\\27\\n")' }
    assert.equal(0, r.status, r.stderr)
    assert.equal("a\\e]0;x\\x07b\tt\tab\nline2 \\u{202e}z\t3\tnil\nraw\27\n", r.stdout)
  end)
end)
