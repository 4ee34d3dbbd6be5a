"""Serving queries from Redis alone: the read models as typed views, cursor pages, the
projections' statuses, and the persisted-query cache."""
