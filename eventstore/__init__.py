"""The event log: SQL tables, appends with expected versions, group commit, reads in commit order."""
