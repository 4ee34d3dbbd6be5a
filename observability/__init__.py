"""Operating Inkwell: metrics, health and readiness, structured logs, request ids."""
