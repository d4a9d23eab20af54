-- How the sandbox checks a queue PUT, after the service: the fields of a
-- QueueRequest, their types, enums and ranges, list fields that must be
-- lists, and queue names that must be unique. Unknown fields are ignored,
-- as the service ignores them.
local json = require "gcrun.json"
local respond = require "gcrun.sandbox.respond"

local M = {}

M.WRAPUP = { MANDATORY = true, OPTIONAL = true, MANDATORY_TIMEOUT = true,
  MANDATORY_FORCED_TIMEOUT = true, AGENT_REQUESTED = true }
local TIMEOUT_ALLOWED = { MANDATORY_TIMEOUT = true, MANDATORY_FORCED_TIMEOUT = true, AGENT_REQUESTED = true }
local TIMEOUT_REQUIRED = { MANDATORY_TIMEOUT = true, MANDATORY_FORCED_TIMEOUT = true }
local EVALUATION = { NONE = true, BEST = true, ALL = true }

-- The writable fields of a QueueRequest and the JSON type each must have.
M.WRITABLE = {
  name = "string", description = "string", division = "object", mediaSettings = "object",
  routingRules = "array", conditionalGroupRouting = "object", bullseye = "object", scoringMethod = "string",
  acwSettings = "object", skillEvaluationMethod = "string", memberGroups = "array", queueFlow = "object",
  emailInQueueFlow = "object", messageInQueueFlow = "object", whisperPrompt = "object",
  onHoldPrompt = "object", autoAnswerOnly = "boolean", cannedResponseLibraries = "object",
  enableTranscription = "boolean", enableAudioMonitoring = "boolean", enableManualAssignment = "boolean",
  agentOwnedRouting = "object", directRouting = "object", callingPartyName = "string",
  callingPartyNumber = "string", defaultScripts = "object", outboundMessagingAddresses = "object",
  outboundEmailAddress = "object", peerId = "string", suppressInQueueCallRecording = "boolean",
}

local function json_type(v)
  local t = type(v)
  if t == "table" then return json.is_array(v) and "array" or "object" end
  return t
end

local function bad(field, message)
  return respond.invalid(message, field)
end

local function enum_list(set)
  local names = {}
  for k in pairs(set) do names[#names + 1] = k end
  table.sort(names)
  return table.concat(names, ", ")
end

local function check_acw(acw)
  local prompt = acw.wrapupPrompt
  if not M.WRAPUP[prompt] then
    return bad("acwSettings.wrapupPrompt", string.format(
      "Value [%s] is not valid for field wrapupPrompt. Allowed values: %s", tostring(prompt), enum_list(M.WRAPUP)))
  end
  local ms = acw.timeoutMs
  if ms ~= nil then
    if math.type(ms) ~= "integer" then
      return bad("acwSettings.timeoutMs", "timeoutMs must be a whole number of milliseconds")
    end
    if not TIMEOUT_ALLOWED[prompt] then
      return bad("acwSettings.timeoutMs", "timeoutMs can only be used when wrapupPrompt is " ..
        "AGENT_REQUESTED, MANDATORY_TIMEOUT or MANDATORY_FORCED_TIMEOUT")
    end
    if ms < 1000 or ms > 3600000 then
      return bad("acwSettings.timeoutMs", string.format(
        "timeoutMs %d is out of range: between 1000 (1 second) and 3600000 (60 minutes)", ms))
    end
  elseif TIMEOUT_REQUIRED[prompt] then
    return bad("acwSettings.timeoutMs", "timeoutMs is required when wrapupPrompt is " .. prompt)
  end
  return nil
end

local function check_media(media)
  for kind, m in pairs(media) do
    if json_type(m) ~= "object" then
      return bad("mediaSettings." .. kind, "mediaSettings." .. kind .. " must be an object")
    end
    local alert = m.alertingTimeoutSeconds
    if alert ~= nil and (math.type(alert) ~= "integer" or alert < 7 or alert > 86400) then
      return bad("mediaSettings." .. kind .. ".alertingTimeoutSeconds",
        "alertingTimeoutSeconds must be a whole number from 7 to 86400")
    end
    local sl = m.serviceLevel
    if sl ~= nil then
      if json_type(sl) ~= "object" then
        return bad("mediaSettings." .. kind .. ".serviceLevel", "serviceLevel must be an object")
      end
      if sl.percentage ~= nil and (type(sl.percentage) ~= "number" or sl.percentage < 0 or sl.percentage > 1) then
        return bad("mediaSettings." .. kind .. ".serviceLevel.percentage", "percentage must be between 0 and 1")
      end
      if sl.durationMs ~= nil and (math.type(sl.durationMs) ~= "integer" or sl.durationMs < 0) then
        return bad("mediaSettings." .. kind .. ".serviceLevel.durationMs", "durationMs must be a whole number >= 0")
      end
    end
  end
  return nil
end

-- queue(org, body, id) -> nil when valid, else the 400 response; id is
-- nil for a queue being created (POST), whose body id is ignored.
function M.queue(org, body, id)
  if json_type(body) ~= "object" then
    return respond.error(400, "bad.request", "The request body must be a Queue object")
  end
  if id ~= nil and body.id ~= nil and body.id ~= id then
    return bad("id", string.format("The id in the body (%s) does not match the queue in the path (%s)",
      tostring(body.id), id))
  end
  for field, want in pairs(M.WRITABLE) do
    local v = body[field]
    if v ~= nil and json_type(v) ~= want then
      return bad(field, string.format("%s must be %s %s, not %s", field, want == "array" and "a" or "an",
        want == "array" and "list" or want, json_type(v)))
    end
  end
  if type(body.name) ~= "string" or body.name:match("^%s*$") then
    return bad("name", "The queue name is required")
  end
  if #body.name > 255 then return bad("name", "The queue name is longer than 255 characters") end
  local other = org:queue_by_name(body.name, id)
  if other then
    return respond.error(400, "duplicate.name", string.format("A queue named '%s' already exists", body.name),
      { params = { name = body.name }, details = { { errorCode = "duplicate.name", fieldName = "name",
        entityId = other.id, entityName = other.name } } })
  end
  if body.division ~= nil then
    local did = body.division.id
    if type(did) ~= "string" or not org:get("divisions", did) then
      return bad("division.id", string.format("Division '%s' was not found", tostring(did)))
    end
  end
  if body.acwSettings == nil then return bad("acwSettings", "acwSettings is required") end
  local err = check_acw(body.acwSettings)
  if err then return err end
  if body.skillEvaluationMethod == nil then
    return bad("skillEvaluationMethod", "skillEvaluationMethod is required")
  end
  if not EVALUATION[body.skillEvaluationMethod] then
    return bad("skillEvaluationMethod", string.format(
      "Value [%s] is not valid for field skillEvaluationMethod. Allowed values: %s",
      tostring(body.skillEvaluationMethod), enum_list(EVALUATION)))
  end
  if body.mediaSettings == nil then return bad("mediaSettings", "mediaSettings is required") end
  err = check_media(body.mediaSettings)
  if err then return err end
  if body.bullseye and body.bullseye.rings ~= nil and json_type(body.bullseye.rings) ~= "array" then
    return bad("bullseye.rings", "bullseye.rings must be a list")
  end
  return nil
end

return M
