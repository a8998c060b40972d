"""The web tier: thin routes that parse input, call the engine once, and render or serialise the result."""
