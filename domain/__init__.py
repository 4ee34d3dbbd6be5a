"""The write model: commands, events, aggregates and the rules they enforce. Standard library only."""
