-- The engine's entry point, loaded by the C host from the data directory
-- with the command-line arguments and the facts only C knows (version,
-- data directory). Returns the process exit status.
local args, info = ...
return require("gcrun.cli").main(args, info)
