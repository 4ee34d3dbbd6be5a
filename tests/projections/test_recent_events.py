"""The recent-events projection, the position each post's read model reflects, and each
projection's wait in milliseconds: what the live page's lab shows."""

from __future__ import annotations

import orjson

from domain.commands import (
    AddComment,
    CreatePost,
    LikePost,
    PublishPost,
    RegisterUser,
    UpdateProfile,
)
from projections.keyspace.keys import Keys
from projections.readers.read_models import newest_events
from tests.support.in_process import send, settle
from wiring.bootstrap import Inkwell


def test_an_entry_read_in_both_lists_is_listed_once() -> None:
    """The public list and the author's own are read one after the other: an archiving
    recomputed between the two moves the post's entries from the first to the second,
    and the author saw them twice."""
    five, four, three = (orjson.dumps({"position": n}) for n in (5, 4, 3))
    public = [five, b"5", three, b"3"]  # RESP2: member, score, ...
    own = [[four, 4.0], [three, 3.0]]  # RESP3: [member, score] pairs
    assert newest_events([public, own], 10) == [five, four, three]
    assert newest_events([public, own], 2) == [five, four]
    assert newest_events([public], 10) == [five, three]


async def test_the_newest_events_are_listed_newest_first_without_their_data(
    inkwell: Inkwell,
) -> None:
    author = (await send(inkwell, RegisterUser("Ann")))["user_id"]
    post = (await send(inkwell, CreatePost("Secret draft", "Unpublished text"), author))["post_id"]
    await send(inkwell, PublishPost(post), author)
    await settle(inkwell)

    events = await inkwell.services.reads.recent_events(20, author)
    assert [(e.position, e.type, e.stream_id, e.version) for e in events] == [
        (3, "PostPublished", f"post-{post}", 2),
        (2, "PostCreated", f"post-{post}", 1),
        (1, "UserRegistered", f"user-{author}", 1),
    ]
    assert all(e.recorded_at.tzinfo is not None for e in events)
    assert [e.position for e in await inkwell.services.reads.recent_events(2, author)] == [3, 2]
    stored = await inkwell.redis.zrange(inkwell.keys.recent_events(), 0, -1)
    assert not any("Secret" in entry or "Unpublished" in entry for entry in stored)


async def test_the_list_keeps_only_the_newest_hundred(inkwell: Inkwell) -> None:
    for number in range(Keys.RECENT_EVENTS_KEPT + 5):
        await send(inkwell, RegisterUser(f"User {number}"))
    await settle(inkwell)
    assert await inkwell.redis.zcard(inkwell.keys.recent_events()) == Keys.RECENT_EVENTS_KEPT
    events = await inkwell.services.reads.recent_events(100, None)
    assert events[0].position == Keys.RECENT_EVENTS_KEPT + 5
    assert events[-1].position == 6


async def test_an_authors_own_list_holds_only_what_the_newest_hundred_hide_from_others(
    inkwell: Inkwell,
) -> None:
    """The split (projections/projectors/lua/public_events.lua) follows the list: once a
    draft's entry is pushed out of the newest hundred, its author's list goes too."""
    author = (await send(inkwell, RegisterUser("Ann")))["user_id"]
    post = (await send(inkwell, CreatePost("Draft", "Text"), author))["post_id"]
    await settle(inkwell)
    own = inkwell.keys.recent_own_events(author)
    entries = [str(entry) for entry in await inkwell.redis.zrange(own, 0, -1)]
    assert [orjson.loads(entry)["streamId"] for entry in entries] == [f"post-{post}"]
    assert await inkwell.redis.smembers(inkwell.keys.recent_events_authors()) == {author}
    assert await inkwell.redis.zcard(inkwell.keys.recent_public_events()) == 1  # Ann joined

    for number in range(Keys.RECENT_EVENTS_KEPT):
        await send(inkwell, RegisterUser(f"User {number}"))
    await settle(inkwell)
    assert not await inkwell.redis.exists(own, inkwell.keys.recent_events_authors())
    public = inkwell.keys.recent_public_events()
    assert await inkwell.redis.zcard(public) == Keys.RECENT_EVENTS_KEPT


async def test_a_post_read_model_records_the_position_of_the_newest_event_that_changed_it(
    inkwell: Inkwell,
) -> None:
    async def reflected(post_id: str) -> int | None:
        await settle(inkwell)
        view = await inkwell.services.reads.post(post_id, author)
        assert view is not None
        return view.read_model_position

    author = (await send(inkwell, RegisterUser("Ann")))["user_id"]
    reader = (await send(inkwell, RegisterUser("Bob")))["user_id"]
    created = await send(inkwell, CreatePost("Title", "Text"), author)
    post = created["post_id"]
    assert await reflected(post) == int(created["position"])
    published = await send(inkwell, PublishPost(post), author)
    assert await reflected(post) == int(published["position"])
    liked = await send(inkwell, LikePost(post), reader)
    assert await reflected(post) == int(liked["position"])
    commented = await send(inkwell, AddComment(post, "Nice"), reader)
    assert await reflected(post) == int(commented["position"])
    renamed = await send(inkwell, UpdateProfile(name="Bobby"), reader)  # his comment shows
    assert await reflected(post) == int(renamed["position"])
    unrelated = await send(inkwell, RegisterUser("Cy"))
    assert await reflected(post) == int(renamed["position"]) < int(unrelated["position"])
