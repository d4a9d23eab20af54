return { description = "print the version", main = function() print("v") end }
