"""Protection at the edge, before GraphQL: request size limits and rate limits.

Query-shape and cost limits live with the schema (schema/limits). docs/security.md lists
every limit, its default and the variable that sets it.
"""
