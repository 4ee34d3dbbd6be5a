"""Recomputations due at a batch's end (a post's top comments, the recent events cut to
length): asked for by many events, run once, after the batch's other writes; taken back
with an event that failed to apply; kept across a rebuild's batches, with the same
read models as a runner that recomputes after every batch."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from domain.commands import (
    AddComment,
    CreatePost,
    DeleteComment,
    PublishPost,
    RegisterUser,
    UpdateProfile,
)
from infra.settings import Settings
from projections.keyspace.keys import Keys
from projections.projectors import rebuild, recent_events
from projections.projectors.commands import Commands
from projections.projectors.rebuild import Rebuild
from projections.projectors.runner import ProjectionRunner
from projections.projectors.scripts import Scripts
from projections.projectors.tx import Tx
from projections.tools.verify import differences, drop
from tests.support.in_process import send, settle
from wiring.bootstrap import NAMES, PROJECTIONS, Inkwell, running

SCRIPTS = Scripts.register(Redis())  # registering hashes the scripts; nothing connects


def tx(commands: Commands) -> Tx:
    return Tx(commands, Keys("t"), SCRIPTS, position=1)


def entry(name: str, made: list[str] | None = None) -> Callable[[], bytes]:
    """A capped set's member maker, noting in `made` when it is called."""

    def make() -> bytes:
        if made is not None:
            made.append(name)
        return name.encode()

    return make


def test_asked_for_twice_it_runs_once_after_the_batchs_other_commands() -> None:
    batch = tx(Commands())
    batch.recompute(SCRIPTS.refresh_top_comments, ["t:post:1", "t:post:1:comments"], ["t:c:", 3])
    batch.pipe.sadd("t:s", "x")
    batch.recompute(SCRIPTS.refresh_top_comments, ["t:post:1", "t:post:1:comments"], ["t:c:", 3])
    batch.add_capped("t:recent", 100, 7, entry("e7"))
    batch.add_capped("t:recent", 100, 7, entry("e7"))  # the same entry again
    batch.queue_recomputes()
    sha = SCRIPTS.refresh_top_comments.sha
    assert batch.pipe.stack == [
        ("SADD", "t:s", "x"),
        ("ZADD", "t:recent", 7, b"e7"),
        ("ZREMRANGEBYRANK", "t:recent", 0, -101),
        ("EVALSHA", sha, 2, "t:post:1", "t:post:1:comments", "t:c:", 3),
    ]
    assert batch.pipe.scripts == {SCRIPTS.refresh_top_comments}  # loaded before the batch
    assert len(batch.recomputes) == 0


def test_a_call_every_event_asks_for_is_made_once_while_it_is_due() -> None:
    """recompute_once: the recent events ask with every event; the call's key names are
    built the first time, and again only once the call is no longer due."""
    batch, made = tx(Commands()), list[int]()
    sha = SCRIPTS.public_events.sha

    def call() -> tuple[AsyncScript, list[str], list[str | int]]:
        made.append(len(made))
        return SCRIPTS.public_events, ["t:recent"], ["t:p:"]

    batch.recompute_once("t:recent", call)
    batch.recompute_once("t:recent", call)
    batch.queue_recomputes()
    assert batch.pipe.stack == [("EVALSHA", sha, 1, "t:recent", "t:p:")]
    assert made == [0]
    batch.recompute_once("t:recent", call)  # due again after the queue
    assert made == [0, 1]
    later = tx(Commands())
    later.recompute_once("t:recent", call)
    mark = later.mark()
    later.discard_after(mark)  # a failed event that did not ask first takes nothing back
    later.recompute_once("t:recent", call)
    assert made == [0, 1, 2]
    failing = tx(Commands())
    mark = failing.mark()
    failing.recompute_once("t:recent", call)
    failing.discard_after(mark)  # asked first by the failed event: no longer due
    failing.recompute_once("t:recent", call)
    failing.queue_recomputes()
    assert made == [0, 1, 2, 3, 4]
    assert failing.pipe.stack == [("EVALSHA", sha, 1, "t:recent", "t:p:")]


def test_a_capped_set_gets_only_its_highest_entries_made_and_sent() -> None:
    batch, made = tx(Commands()), list[str]()
    for position in range(1, 1001):  # pruned on the way, every 4 x 3 entries
        batch.add_capped("t:recent", 3, position, entry(f"e{position}", made))
    batch.queue_recomputes()
    assert batch.pipe.stack == [
        ("ZADD", "t:recent", 1000, b"e1000", 999, b"e999", 998, b"e998"),
        ("ZREMRANGEBYRANK", "t:recent", 0, -4),
    ]
    assert made == ["e1000", "e999", "e998"]


def test_an_event_that_fails_takes_back_only_what_it_asked_for_first() -> None:
    batch = tx(Commands())
    for position in range(1, 9):  # earlier events': the next add prunes to the two highest
        batch.add_capped("t:recent", 2, position, entry(f"e{position}"))
    batch.recompute(SCRIPTS.refresh_top_comments, ["t:post:1", "t:post:1:comments"], ["t:c:", 3])
    mark = batch.mark()
    batch.pipe.hset("t:h", "f", "v")
    batch.recompute(SCRIPTS.refresh_top_comments, ["t:post:1", "t:post:1:comments"], ["t:c:", 3])
    batch.add_capped("t:recent", 2, 9, entry("e9"))  # pruned the held ones first
    batch.add_capped("t:other", 5, 9, entry("e9"))  # asked first by it
    batch.discard_after(mark)
    batch.queue_recomputes()
    sha = SCRIPTS.refresh_top_comments.sha
    assert batch.pipe.stack == [
        ("ZADD", "t:recent", 8, b"e8", 7, b"e7"),
        ("ZREMRANGEBYRANK", "t:recent", 0, -3),
        ("EVALSHA", sha, 2, "t:post:1", "t:post:1:comments", "t:c:", 3),
    ]


def test_what_an_earlier_batch_asked_for_outlives_a_failure_in_a_later_one() -> None:
    """A rebuild keeps them across batches: a batch's marks say nothing of another's."""
    first = tx(Commands())
    first.pipe.sadd("t:s", "a", "b", "c")
    first.add_capped("t:recent", 100, 1, entry("e1"))
    second = Tx(Commands(), Keys("t"), SCRIPTS, position=2, recomputes=first.recomputes)
    mark = second.mark()
    second.add_capped("t:recent", 100, 2, entry("e2"))
    second.discard_after(mark)  # its first event failed
    second.queue_recomputes()
    assert second.pipe.stack == [
        ("ZADD", "t:recent", 1, b"e1"),
        ("ZREMRANGEBYRANK", "t:recent", 0, -101),
    ]


async def test_a_burst_in_one_batch_and_a_rebuild_across_many_agree(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Comments, a deletion and a rename land while no projector runs; each runner then
    takes them in one batch (one recomputation per post). A rebuild in batches of three
    events, its recomputations held across batches and queued every five positions,
    must leave the same read models."""
    async with running(settings, projectors=False) as app:
        scripts = Scripts.register(app.redis)
        runners = [
            ProjectionRunner(p, app.redis, app.keys, scripts, app.store) for p in PROJECTIONS
        ]
        for runner in runners:
            await runner.catch_up()  # builds the empty spaces
        ann = (await send(app, RegisterUser("Ann")))["user_id"]
        bob = (await send(app, RegisterUser("Bob")))["user_id"]
        posts = [(await send(app, CreatePost(f"Post {n}", "Text."), ann))["post_id"] for n in "ab"]
        for post in posts:
            await send(app, PublishPost(post), ann)
        comments = [
            (await send(app, AddComment(posts[n % 2], f"Comment {n}"), (ann, bob)[n % 3 == 0]))[
                "comment_id"
            ]
            for n in range(9)
        ]
        await send(app, DeleteComment(comments[8]), ann)  # the newest of post a
        await send(app, UpdateProfile(name="Bobby"), bob)  # his comments, renamed
        await send(app, AddComment(posts[0], "After the rename"), bob)
        for runner in runners:
            await runner.catch_up()

        top = await app.services.reads.post(posts[0], ann)
        assert top is not None
        shown = [(c.body, c.author_name) for c in top.top_comments]
        assert shown == [
            ("After the rename", "Bobby"),
            ("Comment 6", "Bobby"),
            ("Comment 4", "Ann"),
        ]
        assert top.comment_count == 5
        assert await app.redis.zcard(app.keys.recent_events()) == await app.store.head_position()

        monkeypatch.setattr(rebuild, "RECOMPUTE_EVERY", 5)
        spaces, _ = await Rebuild(
            app.redis, app.keys, scripts, app.store, PROJECTIONS, batch=3
        ).scratch()
        scratch = Keys(app.keys.prefix)
        for name, space in spaces.items():
            scratch = scratch.with_space(name, space)
        try:
            assert await differences(app.redis, app.keys, scratch, list(NAMES)) == []
        finally:
            await drop(app.redis, scratch, list(NAMES))


async def test_a_backlog_longer_than_the_cap_keeps_the_newest_hundred_as_a_rebuild_does(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recent events' entries are held and pruned as they come (Tx.add_capped): a
    runner catching up 250 events and a rebuild in batches of seven, its entries held
    across batches, leave the same newest hundred."""
    async with running(settings, projectors=False) as app:
        scripts = Scripts.register(app.redis)
        runner = ProjectionRunner(recent_events.PROJECTION, app.redis, app.keys, scripts, app.store)
        await runner.catch_up()  # builds the empty space
        for number in range(250):
            await send(app, RegisterUser(f"User {number}"))
        await runner.catch_up()
        views = await app.services.reads.recent_events(Keys.RECENT_EVENTS_KEPT, None)
        assert [view.position for view in views] == list(range(250, 150, -1))
        assert await app.redis.zcard(app.keys.recent_events()) == Keys.RECENT_EVENTS_KEPT

        monkeypatch.setattr(rebuild, "RECOMPUTE_EVERY", 20)
        spaces, _ = await Rebuild(
            app.redis, app.keys, scripts, app.store, [recent_events.PROJECTION], batch=7
        ).scratch()
        scratch = app.keys.with_space(recent_events.NAME, spaces[recent_events.NAME])
        try:
            assert await differences(app.redis, app.keys, scratch, [recent_events.NAME]) == []
        finally:
            await drop(app.redis, scratch, [recent_events.NAME])


async def test_a_rename_recomputes_only_the_top_comments_that_show_the_author(
    inkwell: Inkwell,
) -> None:
    """Bob's comment is the third newest of one post (shown among its three) and the
    fourth of another (not shown). The first post's top comments take his new name; the
    second's, which hold nothing of his, are left as they are. Both posts, his comment
    and his comment's hash reflect the rename."""
    ann = (await send(inkwell, RegisterUser("Ann")))["user_id"]
    bob = (await send(inkwell, RegisterUser("Bob")))["user_id"]
    posts = {}
    for name, after_his in (("shown", 2), ("hidden", 3)):
        post = (await send(inkwell, CreatePost(name, "Text."), ann))["post_id"]
        await send(inkwell, PublishPost(post), ann)
        his = (await send(inkwell, AddComment(post, f"Bob on {name}"), bob))["comment_id"]
        for n in range(after_his):
            await send(inkwell, AddComment(post, f"Ann {n}"), ann)
        posts[name] = (post, his)
    renamed = int((await send(inkwell, UpdateProfile(name="Bobby"), bob))["position"])
    await settle(inkwell)

    reads = inkwell.services.reads
    tops = {}
    for name, (post, his) in posts.items():
        view = await reads.post(post, ann)
        comment = await reads.comment(his)
        assert view is not None and comment is not None
        assert view.read_model_position == renamed and comment.author_name == "Bobby"
        tops[name] = [(c.body, c.author_name) for c in view.top_comments]
    assert tops == {
        "shown": [("Ann 1", "Ann"), ("Ann 0", "Ann"), ("Bob on shown", "Bobby")],
        "hidden": [("Ann 2", "Ann"), ("Ann 1", "Ann"), ("Ann 0", "Ann")],
    }
