"""A row the code cannot decode is handed on as Undecodable, and no read keeps a snapshot."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from cli.events import json_line
from domain.commands import RegisterUser
from domain.upcasting import Undecodable, UndecodableEvent
from eventstore.tables import events
from infra.settings import Settings
from tests.support.in_process import send
from tests.support.settings import make_settings
from wiring.bootstrap import running

META = '{"command_id": "c", "actor_id": null, "correlation_id": "k"}'


def insert(database: Path, rows: list[tuple[str, str, str]]) -> None:
    with sqlite3.connect(database) as db:
        db.executemany(
            "INSERT INTO events (stream_id, version, type, schema_version, data, metadata,"
            " recorded_at) VALUES (?, 1, ?, 1, ?, ?, '2026-01-01 00:00:00')",
            [(stream, kind, data, META) for stream, kind, data in rows],
        )


async def test_bad_rows_read_as_undecodable_and_fresh_writes_stay_visible(
    settings: Settings, tmp_path: Path
) -> None:
    database = tmp_path / "events.db"
    async with running(settings, projectors=False) as inkwell:
        await send(inkwell, RegisterUser("Ann"))
        insert(
            database,
            [
                ("x-unknown", "PostPinned", "{}"),
                ("x-broken", "PostPublished", '{"post_id": '),
                ("x-misfit", "PostPublished", '{"no_such_field": 1}'),
                ("x-array", "PostPublished", "[1, 2]"),
                ("x-newer", "PostPublished", "{}"),
            ],
        )
        with sqlite3.connect(database) as db:
            db.execute("UPDATE events SET schema_version = 9 WHERE stream_id = 'x-newer'")
        # Many rows after the bad ones: a read that failed mid-way kept its statement open.
        insert(database, [(f"y-{n}", "PostPinned", "{}") for n in range(300)])

        reads = await asyncio.gather(*[inkwell.store.read_all(0, 1000) for _ in range(20)])
        first = reads[0]
        assert [type(e.event).__name__ for e in first[:6]] == ["UserRegistered"] + [
            "Undecodable"
        ] * 5
        reasons = [e.event.error for e in first[1:6] if isinstance(e.event, Undecodable)]
        assert "unknown event type 'PostPinned'" in reasons[0]
        assert "JSONDecodeError" in reasons[1]
        assert "no_such_field" in reasons[2]
        assert "not an object" in reasons[3]
        assert "newer than this code" in reasons[4]
        with pytest.raises(UndecodableEvent):
            await inkwell.store.load("x-broken")
        shown = orjson.loads(json_line((await inkwell.log.after(1, 1))[0]))
        assert (
            shown["type"] == "PostPinned" and "unknown event type" in shown["data"]["undecodable"]
        )

        # Every pooled connection sees a write made after the bad reads.
        head = (await send(inkwell, RegisterUser("Bob")))["position"]
        heads = await asyncio.gather(*[inkwell.store.head_position() for _ in range(20)])
        assert set(heads) == {int(head)}
        tail = await inkwell.log.last(1)
        assert tail[0].position == int(head)


async def test_both_databases_hand_on_bad_rows_in_their_place(
    database_url: str, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, redis_url, prefix, tmp_path)
    async with running(settings, projectors=False) as inkwell:
        await send(inkwell, RegisterUser("Ann"))
        with inkwell.engines.writer.begin() as conn:
            conn.execute(
                events.insert().values(
                    stream_id="x-unknown",
                    version=1,
                    type="PostPinned",
                    schema_version=1,
                    data="{}",
                    meta=META,
                    recorded_at=datetime.now(UTC),
                )
            )
        await send(inkwell, RegisterUser("Bob"))
        kinds = [type(e.event).__name__ for e in await inkwell.store.read_all(0, 10)]
        assert kinds == ["UserRegistered", "Undecodable", "UserRegistered"]
        with pytest.raises(UndecodableEvent, match="unknown event type"):
            await inkwell.store.load("x-unknown")
