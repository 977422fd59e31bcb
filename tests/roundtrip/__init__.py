"""Round trips of all 50 operations against a strict server built from the official definitions."""
