"""The record of events operators dropped from a projection (`parked skip`).

It lives in the log's database, not in Redis: a decision about the log outlives
the read models, so a replay or rebuild drops the same events and `verify` agrees.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select

from eventstore.tables import skipped_events


def record_skip(engine: Engine, projection: str, position: int, by: str) -> datetime:
    """Records the skip (once; skipping again keeps the first record); returns when."""
    at = datetime.now(UTC)
    with engine.begin() as conn:
        known = conn.execute(
            select(skipped_events.c.position).where(
                skipped_events.c.projection == projection, skipped_events.c.position == position
            )
        ).first()
        if known is None:
            conn.execute(
                skipped_events.insert().values(
                    projection=projection, position=position, skipped_by=by, skipped_at=at
                )
            )
    return at
