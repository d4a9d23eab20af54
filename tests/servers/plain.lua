-- A handler module that is just a function; /boom raises inside it.
return function(req)
  if req.path == "/boom" then error("the handler broke") end
  return 200, { ["Content-Type"] = "text/plain", ["X-Method"] = req.method }, "plain " .. req.path .. " " .. #req.body
end
