"""Looks at the event log directly, to prove what a refused command did not append; makes
an empty one, as a server's first start leaves it, for commands that need one."""

from __future__ import annotations

from sqlalchemy import create_engine, func, select

from eventstore.engines import open_engines
from eventstore.tables import events


def head(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.max(events.c.position))).scalar() or 0
    finally:
        engine.dispose()


def make_log(database_url: str) -> None:
    open_engines(database_url).dispose()
