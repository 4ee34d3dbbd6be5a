"""The GraphQL API: strawberry types, queries, mutations, the request context, error codes.

The served schema is built in schema/served.py. This package imports nothing itself, so
that a process that needs one small part of it (the settings read schema/media.py and
schema/exposure.py; the projector process none of the types) does not build them all.
"""
