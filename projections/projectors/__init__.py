"""What writes the read models: one projection per read model, the runner that applies events
exactly once (transaction, lease, parking, Lua scripts), rebuilds, and the event publisher."""
