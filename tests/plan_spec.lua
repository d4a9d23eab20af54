-- The plan of one queue against state already read (what workload 4
-- measures): the ACW settings a definition names and the skills each
-- member's agent is given, built without a table per queue it does not need.
local mapping = require "gcrun.mapping"
local platform = require "gcrun.api.platform"

describe("the plan against state already read", function()
  it("ACW settings: all three named are taken as they are, fewer are completed from the queue", function()
    local def = { wrap_up_policy = "required", acw_timer_required = true, acw_timeout = 30 }
    assert.same({ wrapupPrompt = "MANDATORY_TIMEOUT", timeoutMs = 30000 },
      mapping.wanted_acw(def, { wrapupPrompt = "OPTIONAL" }))
    assert.same({ wrapupPrompt = "AGENT_REQUESTED" },
      mapping.wanted_acw({ wrap_up_policy = "none", acw_timer_required = false, acw_timeout = 30 }, nil))
    assert.same({ wrapupPrompt = "MANDATORY_TIMEOUT", timeoutMs = 45000 },
      mapping.wanted_acw({ acw_timeout = 45 }, { wrapupPrompt = "MANDATORY" }))
    assert.same({ wrapupPrompt = "OPTIONAL" }, mapping.wanted_acw({ wrap_up_policy = "optional" }, nil))
    assert.is_nil(mapping.wanted_acw({}, { wrapupPrompt = "OPTIONAL" }))
  end)

  it("a skill an agent lacks has no before but added; one at another level says the level it had", function()
    local api = platform.new(nil)
    api.shared.skills = { s1 = "Billing", s2 = "Sales" }
    local def = { file = "q.json", queue_id = "q1", name = "Q", queue = {}, flows = {},
      members = { { id = "u1", priority = 1 } }, skills = { { id = "s1", level = 3 }, { id = "s2", level = 2 } } }
    local current = { queue = { id = "q1", name = "Q" }, members = { { id = "u1", ringNumber = 1 } },
      agents = { u1 = { name = "Ann", skills = { s1 = 1 } } }, flows = {} }
    local plan = api:plan(def, current)
    assert.same({ { user = "u1", name = "Ann",
      skills = { { id = "s1", level = 3, before = 1 }, { id = "s2", level = 2, added = true } } } },
      plan.skill_assignments)
    -- absent skills and members (untouched) plan nothing for them
    local untouched = api:plan({ file = "q.json", queue_id = "q1", name = "Q", queue = {}, flows = {} }, current)
    assert.same({}, untouched.skill_assignments)
    assert.same({}, untouched.members_removed)
    assert.is_true(untouched.empty)
  end)
end)
