"""The projection runner under faults: duplicates, lost messages, dropped connections, restarts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from domain.bus import Caller, CommandBus
from domain.commands import CreatePost, PublishPost, UpdateProfile
from domain.handlers import HANDLERS
from eventstore.store import SqlEventStore
from eventstore.writer import GroupCommitWriter
from infra.settings import Settings
from projections.projectors import messages
from projections.readers.pagination import Slice
from projections.tools.verify import differences, drop, dump, replay
from tests.support.in_process import author_with_posts, send, settle
from wiring.bootstrap import PROJECTIONS, Inkwell, running


async def read_models(inkwell: Inkwell) -> dict[str, object]:
    """Every projection's active space and checkpoint (not the run's bookkeeping)."""
    models: dict[str, object] = {}
    for projection in PROJECTIONS:
        models[projection.name] = await dump(inkwell.redis, inkwell.keys.space(projection.name))
        models[f"{projection.name} at"] = await inkwell.redis.get(
            inkwell.keys.checkpoint(projection.name)
        )
    return models


async def test_an_event_delivered_twice_is_applied_once(inkwell: Inkwell) -> None:
    author = await author_with_posts(inkwell, published=3)
    await settle(inkwell)
    before = await read_models(inkwell)
    everything = await inkwell.store.read_all(after=0, limit=1000)

    for runner in inkwell.runners:  # redelivered straight to the runner...
        assert await runner.apply(everything, from_log=True)
    assert await read_models(inkwell) == before
    async with inkwell.redis.pipeline(transaction=False) as pipe:  # ...and over pub/sub,
        for start in range(0, len(everything), 4):  # in messages of a few events each
            for message in messages.encode(everything[start : start + 4]):
                pipe.publish(inkwell.keys.events_channel(), message)
        await pipe.execute()
    # then one new event: once every projection has applied it, each runner has taken the
    # duplicates, published before it on the same channel, off its inbox.
    await send(inkwell, UpdateProfile(bio="Twice told"), author)
    await settle(inkwell)

    names = [projection.name for projection in PROJECTIONS]
    scratch = await replay(inkwell.redis, inkwell.store, inkwell.keys, PROJECTIONS)
    try:
        assert await differences(inkwell.redis, inkwell.keys, scratch, names) == []
    finally:
        await drop(inkwell.redis, scratch, names)
    user = await inkwell.services.reads.user(author)
    assert user is not None and user.published_post_count == 3


async def test_events_committed_but_never_published_are_caught_up(
    inkwell: Inkwell, settings: Settings
) -> None:
    """A second writer commits and never publishes, as a process killed between its
    commit and its publish would: the projectors find the events in the log anyway."""
    author = await author_with_posts(inkwell, published=0)
    await settle(inkwell)
    silent = GroupCommitWriter(inkwell.engines, lambda _: None)
    silent.start()
    try:
        bus = CommandBus(
            SqlEventStore(inkwell.engines, silent),
            HANDLERS,
            lambda: datetime.now(UTC),
            lambda: str(uuid.uuid4()),
        )
        post = (await bus.dispatch(CreatePost("Unannounced", "Body"), Caller(author, "t"))).ids
        outcome = await bus.dispatch(PublishPost(post["post_id"]), Caller(author, "t"))
    finally:
        silent.stop()
    await inkwell.services.consistency.wait_for(outcome.position, timeout=5)
    page = await inkwell.services.reads.recent_posts(Slice(10))
    assert [view.title for _, view in page.posts] == ["Unannounced"]


async def test_a_dropped_pubsub_connection_loses_nothing(inkwell: Inkwell) -> None:
    author = await author_with_posts(inkwell, published=1)
    await settle(inkwell)
    name = f"{inkwell.keys.prefix}:pubsub"
    clients = await inkwell.redis.client_list(_type="pubsub")
    ours = [client["id"] for client in clients if client["name"] == name]
    assert ours, "the process's one pub/sub connection carries our name"
    await inkwell.redis.client_kill_filter(_id=ours[0])

    for i in range(5):
        await send(inkwell, UpdateProfile(name=f"Ann {i}"), author)
    await settle(inkwell)

    user = await inkwell.services.reads.user(author)
    assert user is not None and user.name == "Ann 4"
    page = await inkwell.services.reads.recent_posts(Slice(10))
    assert page.posts[0][1].author_name == "Ann 4"


async def test_a_restarted_projector_resumes_from_its_checkpoint(settings: Settings) -> None:
    async with running(settings) as first:
        author = await author_with_posts(first, published=2)
        await settle(first)
        checkpoint = await first.redis.get(first.keys.checkpoint("posts"))

    async with running(settings, projectors=False) as writer_only:
        await author_with_posts(writer_only, published=3)
        head = await writer_only.store.head_position()
        assert await writer_only.redis.get(writer_only.keys.checkpoint("posts")) == checkpoint

    async with running(settings) as restarted:
        await restarted.services.consistency.wait_for(head, timeout=10)
        page = await restarted.services.reads.recent_posts(Slice(10))
        assert page.total == 5
        user = await restarted.services.reads.user(author)
        assert user is not None and user.published_post_count == 2
