"""The event log: SQL tables, appends with expected versions, group commit, ordered reads."""
