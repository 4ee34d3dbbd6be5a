"""The write model: commands, events, aggregates and their rules. Standard library only."""
