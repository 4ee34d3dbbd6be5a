"""Event versions: events stored in an old shape are read in today's, on every read path.

The log below was written by an "older release" whose PostCreated (v1) had `body`
instead of `content` and its tags as one comma-separated string. Today's release
has PostCreated v2 and an upcaster from v1.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from cli.events import json_line
from domain.commands import CreatePost, PublishPost, UpdatePost
from domain.errors import NotFound
from domain.events import PostCreated
from domain.upcasting import EventSchemas, Undecodable, UndecodableEvent
from eventstore.engines import open_engines
from eventstore.tables import events
from infra.settings import Settings
from projections.tools.verify import differences, drop, replay
from tests.support.in_process import send, settle
from wiring.bootstrap import PROJECTIONS, running

ANN = str(uuid.uuid4())
BOB = str(uuid.uuid4())
POST = str(uuid.uuid4())


def post_created_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 called the content `body` and kept the tags as "a,b"."""
    upcast = {name: value for name, value in data.items() if name not in ("body", "tags")}
    return upcast | {"content": data["body"], "tags": [t for t in data["tags"].split(",") if t]}


V2 = EventSchemas(
    upcasters={("PostCreated", 1): post_created_v1_to_v2}, versions={"PostCreated": 2}
)
V2_WITHOUT_UPCASTER = EventSchemas(upcasters={}, versions={"PostCreated": 2})


def old_release_history(database_url: str) -> None:
    """Ann and Bob registered, and Ann's post created, as the older release stored them."""
    now = datetime.now(UTC)
    rows = [
        (
            f"user-{ANN}",
            "UserRegistered",
            {
                "user_id": ANN,
                "name": "Ann",
                "avatar_url": None,
                "bio": "",
                "registered_at": now.isoformat(),
            },
        ),
        (
            f"user-{BOB}",
            "UserRegistered",
            {
                "user_id": BOB,
                "name": "Bob",
                "avatar_url": None,
                "bio": "",
                "registered_at": now.isoformat(),
            },
        ),
        (
            f"post-{POST}",
            "PostCreated",
            {
                "post_id": POST,
                "author_id": ANN,
                "title": "Old",
                "body": "Written in v1.",
                "tags": "cqrs,history",
                "created_at": now.isoformat(),
            },
        ),
    ]
    engines = open_engines(database_url)
    meta = orjson.dumps(
        {"command_id": "old", "command_type": "Old", "actor_id": None, "correlation_id": "old"}
    ).decode()
    with engines.writer.begin() as conn:
        for stream_id, kind, data in rows:
            conn.execute(
                events.insert().values(
                    stream_id=stream_id,
                    version=1,
                    type=kind,
                    schema_version=1,
                    data=orjson.dumps(data).decode(),
                    meta=meta,
                    recorded_at=now,
                )
            )
    engines.dispose()


async def test_v1_events_are_upcast_for_aggregates_projectors_tail_and_replay(
    settings: Settings,
) -> None:
    old_release_history(settings.database_url)
    async with running(settings, schemas=V2) as inkwell:
        # The aggregate decides on the upcast history: the author may edit; to anyone else
        # the draft does not exist.
        with pytest.raises(NotFound):
            await send(inkwell, UpdatePost(POST, 1, title="Mine now"), BOB)
        await send(inkwell, UpdatePost(POST, 1, title="Edited"), ANN)
        await send(inkwell, PublishPost(POST), ANN)
        await send(inkwell, CreatePost("New", "Written in v2.", ("now",)), ANN)
        await settle(inkwell)

        post = await inkwell.services.reads.post(POST, None)
        assert post is not None
        assert (post.title, post.content, post.tags, post.status) == (
            "Edited",
            "Written in v1.",
            ("cqrs", "history"),
            "PUBLISHED",
        )
        # New events are written at the current version, and not upcast again.
        with inkwell.engines.reader.connect() as conn:
            versions = (
                conn.execute(
                    select(events.c.schema_version)
                    .where(events.c.type == "PostCreated")
                    .order_by(events.c.position)
                )
                .scalars()
                .all()
            )
        assert versions == [1, 2]
        # events tail shows the current shape.
        tail = [orjson.loads(json_line(e)) for e in await inkwell.log.last(10)]
        created = [e for e in tail if e["type"] == "PostCreated"]
        assert created[0]["data"]["content"] == "Written in v1."
        assert "body" not in created[0]["data"]

        # A rebuild (replay of the whole log) gives the current read models back.
        names = [projection.name for projection in PROJECTIONS]
        scratch = await replay(inkwell.redis, inkwell.store, inkwell.keys, PROJECTIONS)
        try:
            assert await differences(inkwell.redis, inkwell.keys, scratch, names) == []
            rebuilt = await inkwell.redis.hgetall(scratch.post(POST))
            assert rebuilt["content"] == "Written in v1."
        finally:
            await drop(inkwell.redis, scratch, names)


async def test_without_the_upcaster_the_old_event_is_undecodable_not_misread(
    settings: Settings,
) -> None:
    old_release_history(settings.database_url)
    async with running(settings, projectors=False, schemas=V2_WITHOUT_UPCASTER) as inkwell:
        with pytest.raises(UndecodableEvent, match="no upcaster from PostCreated v1"):
            await inkwell.store.load(f"post-{POST}")
        recorded = (await inkwell.store.read_all(after=0, limit=10))[2]
        assert isinstance(recorded.event, Undecodable)
        assert recorded.event.type_name == "PostCreated"
        assert not isinstance(recorded.event, PostCreated)
