-- A handler module that cannot even load.
error("this handler module is broken on purpose")
