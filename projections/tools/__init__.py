"""Operator tools: proof that the read models are a function of the log (verify)."""
