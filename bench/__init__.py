"""Benchmarks that print their figures: `python -m bench.<name>` from the repository root."""
