"""Parking through the live path: a handler that fails parks its stream, in order, and a
retry re-applies the stream in log order once the handler is fixed."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Mapping
from pathlib import Path

import orjson

from domain.commands import CreatePost, PublishPost, RegisterUser, UpdatePost
from domain.events import PostCreated, PostUpdated
from domain.ports import RecordedEvent
from projections.projectors import parking
from projections.projectors.projection import Projection
from projections.projectors.runner import ProjectionRunner
from projections.projectors.scripts import Scripts
from projections.projectors.tx import Tx
from projections.readers.views import PostView
from tests.support.in_process import send
from tests.support.waiting import until
from wiring.bootstrap import PROJECTIONS, Inkwell


class Fragile:
    """A projection that cannot take posts titled "poison" until it is fixed."""

    def __init__(self) -> None:
        self.fixed = False
        self.applied: list[tuple[int, str]] = []

    def on_post(self, event: PostCreated | PostUpdated, at: RecordedEvent, tx: Tx) -> None:
        if event.title == "poison" and not self.fixed:
            raise ValueError("cannot take poison")
        self.applied.append((at.position, event.title))
        tx.pipe.set(f"{tx.keys.prefix}:fragile:{event.post_id}", event.title)

    def projection(self) -> Projection:
        return Projection("fragile").on(PostCreated, self.on_post).on(PostUpdated, self.on_post)


async def test_a_failing_event_parks_its_stream_in_order_and_retry_replays_it(
    inkwell: Inkwell,
) -> None:
    fragile = Fragile()
    runner = ProjectionRunner(
        fragile.projection(),
        inkwell.redis,
        inkwell.keys,
        Scripts.register(inkwell.redis),
        inkwell.store,
        inkwell.runners[0]._broadcast,
    )
    task = asyncio.create_task(runner.run())
    try:
        ann = (await send(inkwell, RegisterUser("Ann")))["user_id"]
        bad = await send(inkwell, CreatePost("poison", "x"), ann)
        edit = await send(inkwell, UpdatePost(bad["post_id"], 1, title="antidote"), ann)
        good = await send(inkwell, CreatePost("fine", "x"), ann)
        checkpoint = inkwell.keys.checkpoint("fragile")

        async def caught_up() -> bool:
            return int(await inkwell.redis.get(checkpoint) or 0) == int(good["position"])

        await until(caught_up)
        parked = await parking.read_parked(inkwell.redis, inkwell.keys, "fragile")
        assert [(e.position, e.behind) for e in parked.events] == [
            (int(bad["position"]), None),
            (int(edit["position"]), int(bad["position"])),
        ]
        assert "cannot take poison" in parked.events[0].error
        assert parked.streams == {f"post-{bad['post_id']}": int(bad["position"])}
        assert fragile.applied == [(int(good["position"]), "fine")]

        # Later events of the parked stream park behind it, through the live path too.
        later = await send(inkwell, UpdatePost(bad["post_id"], 2, title="later"), ann)
        await until(lambda: _count(inkwell, "fragile", 3))

        # Still broken: a retry applies nothing and keeps the order.
        result = await parking.retry(
            inkwell.redis,
            inkwell.keys,
            Scripts.register(inkwell.redis),
            fragile.projection(),
            inkwell.store,
        )
        assert result.applied == [] and len(result.still_parked) == 3

        fragile.fixed = True
        result = await parking.retry(
            inkwell.redis,
            inkwell.keys,
            Scripts.register(inkwell.redis),
            fragile.projection(),
            inkwell.store,
        )
        positions = [int(p["position"]) for p in (bad, edit, later)]
        assert result.applied == positions and result.still_parked == []
        assert fragile.applied[1:] == list(
            zip(positions, ["poison", "antidote", "later"], strict=True)
        )
        assert await inkwell.redis.get(f"{inkwell.keys.prefix}:fragile:{bad['post_id']}") == "later"
        assert (await parking.read_parked(inkwell.redis, inkwell.keys, "fragile")).events == []

        # The stream flows again.
        await send(inkwell, UpdatePost(bad["post_id"], 3, title="after"), ann)
        await until(lambda: _title_is(inkwell, bad["post_id"], "after"))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _count(inkwell: Inkwell, projection: str, count: int) -> bool:
    return await inkwell.redis.zcard(inkwell.keys.parked(projection)) == count


async def _title_is(inkwell: Inkwell, post_id: str, title: str) -> bool:
    return await inkwell.redis.get(f"{inkwell.keys.prefix}:fragile:{post_id}") == title


async def test_the_projections_subscription_shows_a_retry_without_waiting_for_a_write(
    inkwell: Inkwell, tmp_path: Path
) -> None:
    ann = (await send(inkwell, RegisterUser("Ann")))["user_id"]
    broken_row(tmp_path, f"user-{ann}", 2, "ProfileUpdated")
    users = inkwell.keys.parked("users")
    await until(lambda: _zcard_is(inkwell, users, 1))
    async with inkwell.services.live.projections() as updates:
        first = await anext(updates)
        assert {s.name: s.parked for s in first}["users"] == 1
        fixed = {"user_id": ann, "name": "Ann B", "avatar_url": None, "bio": "", "updated_at": AT}
        fix_row(tmp_path, f"user-{ann}", 2, fixed)
        await retry_every_projection(inkwell)
        async with asyncio.timeout(10):
            while any(s.parked for s in await anext(updates)):
                pass
    user = await inkwell.services.reads.user(ann)
    assert user is not None and user.name == "Ann B"


async def _zcard_is(inkwell: Inkwell, key: str, count: int) -> bool:
    return await inkwell.redis.zcard(key) == count


async def test_a_retried_change_reaches_live_subscribers(inkwell: Inkwell, tmp_path: Path) -> None:
    """A retry applies an event behind the checkpoint, and records the post's change at
    that event's position: every live topic had read past it, so subscribers to the post
    and to the feed went on showing it as it was before the retry."""
    ann = (await send(inkwell, RegisterUser("Ann")))["user_id"]
    post = (await send(inkwell, CreatePost("Before", "Text."), ann))["post_id"]
    await send(inkwell, PublishPost(post), ann)
    broken_row(tmp_path, f"post-{post}", 3, "PostUpdated")
    await until(lambda: _zcard_is(inkwell, inkwell.keys.parked("posts"), 1))
    edit = {"title": "After", "content": "Text.", "tags": [], "updated_at": AT}
    fixed = {"post_id": post, "author_id": ann, **edit}
    before, shown, from_feed = await across_a_retry(
        inkwell, tmp_path, post, f"post-{post}", 3, fixed
    )
    assert before is not None and before.title == "Before"
    assert shown is not None and shown.title == "After"
    assert (from_feed.id, from_feed.title) == (post, "After")


async def test_a_retried_rename_reaches_live_subscribers(inkwell: Inkwell, tmp_path: Path) -> None:
    """The same for a rename, whose script tells the subscribers of the author's posts
    itself: its notices did not say the change was late, and topics read past it."""
    ann = (await send(inkwell, RegisterUser("Ann")))["user_id"]
    post = (await send(inkwell, CreatePost("Title", "Text."), ann))["post_id"]
    await send(inkwell, PublishPost(post), ann)
    broken_row(tmp_path, f"user-{ann}", 2, "ProfileUpdated")
    await until(lambda: _zcard_is(inkwell, inkwell.keys.parked("posts"), 1))
    profile = {"user_id": ann, "name": "Ann B", "avatar_url": None, "bio": "", "updated_at": AT}
    before, shown, from_feed = await across_a_retry(
        inkwell, tmp_path, post, f"user-{ann}", 2, profile
    )
    assert before is not None and before.author_name == "Ann"
    assert shown is not None and shown.author_name == "Ann B"
    assert (from_feed.id, from_feed.author_name) == (post, "Ann B")


AT = "2026-01-01T00:00:00+00:00"


async def across_a_retry(
    inkwell: Inkwell,
    tmp_path: Path,
    post_id: str,
    stream_id: str,
    version: int,
    data: Mapping[str, object],
) -> tuple[PostView | None, PostView | None, PostView]:
    """What the post's subscribers are shown before the broken event of `stream_id` at
    `version` is fixed to `data` and retried, and next; and what the feed's are sent."""
    live = inkwell.services.live
    async with live.post(post_id) as updates, live.feed() as feed:
        before = await anext(updates)
        fix_row(tmp_path, stream_id, version, data)
        await retry_every_projection(inkwell)
        async with asyncio.timeout(5):
            return before, await anext(updates), await anext(feed)


def broken_row(tmp_path: Path, stream_id: str, version: int, kind: str) -> None:
    """Appends an event whose data is not JSON, as a bad hand edit would leave it."""
    with sqlite3.connect(tmp_path / "events.db") as db:
        db.execute(
            "INSERT INTO events (stream_id, version, type, schema_version, data, metadata,"
            " recorded_at) VALUES (?, ?, ?, 1, 'broken', '{}', ?)",
            (stream_id, version, kind, "2026-01-01 00:00:00"),
        )


def fix_row(tmp_path: Path, stream_id: str, version: int, data: Mapping[str, object]) -> None:
    with sqlite3.connect(tmp_path / "events.db") as db:
        db.execute(
            "UPDATE events SET data = ? WHERE stream_id = ? AND version = ?",
            (orjson.dumps(data).decode(), stream_id, version),
        )


async def retry_every_projection(inkwell: Inkwell) -> None:
    scripts = Scripts.register(inkwell.redis)
    for projection in PROJECTIONS:
        await parking.retry(inkwell.redis, inkwell.keys, scripts, projection, inkwell.store)
