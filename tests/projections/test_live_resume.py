"""Live streams resumed from a position (Resume): what changed after it, then live, with
no gap and no repeat at the seam, in process against real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest

from domain.commands import (
    AddComment,
    ArchivePost,
    CreatePost,
    DeleteComment,
    LikePost,
    PublishPost,
    RegisterUser,
    UpdateProfile,
)
from projections.keyspace.keys import Keys
from projections.live import read_models
from projections.live.read_models import (
    CHANGES_SINCE,
    ChangesSince,
    Held,
    Resubscribe,
    Resume,
    _published_post,
)
from projections.readers.views import PostView
from tests.support.in_process import send, settle
from wiring.bootstrap import Inkwell

T = TypeVar("T")


async def next_item(updates: AsyncIterator[T], timeout: float = 5) -> T:
    return await asyncio.wait_for(anext(updates), timeout)


async def user(inkwell: Inkwell, name: str) -> str:
    return (await send(inkwell, RegisterUser(name)))["user_id"]


async def published(inkwell: Inkwell, author: str, title: str) -> str:
    post = (await send(inkwell, CreatePost(title, "Body", ("cqrs",)), author))["post_id"]
    await send(inkwell, PublishPost(post), author)
    return post


async def checkpoint(inkwell: Inkwell) -> int:
    """The posts projection's position once everything written is applied: what a
    subscriber that saw every change so far has seen up to."""
    await settle(inkwell)
    return int(await inkwell.redis.get(inkwell.keys.checkpoint("posts")) or 0)


async def test_a_resumed_feed_gets_each_post_changed_since_as_it_is_now_then_live(
    inkwell: Inkwell,
) -> None:
    ann, bob, cat = [await user(inkwell, name) for name in ("Ann", "Bob", "Cat")]
    liked = await published(inkwell, ann, "Liked while away")
    archived = await published(inkwell, ann, "Archived while away")
    archived_before = await published(inkwell, cat, "Archived before")
    await send(inkwell, ArchivePost(archived_before), cat)
    after = await checkpoint(inkwell)

    await send(inkwell, LikePost(liked), bob)
    await send(inkwell, ArchivePost(archived), ann)
    draft = (await send(inkwell, CreatePost("Draft", "Body", ()), ann))["post_id"]
    new = await published(inkwell, ann, "Published while away")
    await send(inkwell, UpdateProfile(name="Cat B."), cat)  # changes the archived post
    await settle(inkwell)

    async with inkwell.services.live.feed(Resume(after)) as feed:
        caught_up = [await next_item(feed) for _ in range(4)]
        # Cat's post, archived before `after` and changed since, comes as a tombstone
        # too: a client may have been sent its archiving after a later position
        # (test_an_archiving_sent_after_later_changes_is_sent_again_on_resume).
        assert [(v.id, v.status, v.like_count) for v in caught_up] == [
            (liked, "PUBLISHED", 1),
            (archived, "ARCHIVED", 0),
            (new, "PUBLISHED", 0),
            (archived_before, "ARCHIVED", 0),
        ]
        positions = [v.read_model_position or 0 for v in caught_up]
        assert positions == sorted(positions) and positions[0] > after
        live = await published(inkwell, bob, "Live")
        assert (await next_item(feed)).id == live  # not the draft
    assert draft not in {v.id for v in caught_up}


async def test_an_archiving_sent_after_later_changes_is_sent_again_on_resume(
    inkwell: Inkwell,
) -> None:
    """A post archived and changed again (its author renamed) before a topic read it is
    sent at its last change's position, after posts changed in between: a client that
    dropped between the two and resumed after the largest position it had was never
    sent the archiving, and kept the post listed for good (an outside probe, after a
    stall's catch-up)."""
    ann = await user(inkwell, "Ann")
    kept, archived = await published(inkwell, ann, "Kept"), await published(inkwell, ann, "Gone")
    await send(inkwell, ArchivePost(archived), ann)
    archived_at = await checkpoint(inkwell)
    await send(inkwell, UpdateProfile(name="Ann B."), ann)
    await settle(inkwell)
    # The client had the rename of `kept` (sent first) and dropped: the largest position
    # it was sent is past the archiving.
    async with inkwell.services.live.feed(Resume(archived_at)) as feed:
        caught_up = [await next_item(feed) for _ in range(2)]
    assert {(v.id, v.status) for v in caught_up} == {(kept, "PUBLISHED"), (archived, "ARCHIVED")}


async def test_posts_sharing_a_position_all_come_again_after_one_less(inkwell: Inkwell) -> None:
    """An author's rename gives all their posts one position: a client that had one of them
    and resumed after that position never got the others (an outside probe); the recipe of
    docs/clients.md resumes `feed` after one less."""
    ann = await user(inkwell, "Ann")
    posts = {await published(inkwell, ann, f"Post {n}") for n in range(3)}
    await send(inkwell, UpdateProfile(name="Ann B."), ann)
    renamed_at = await checkpoint(inkwell)
    async with inkwell.services.live.feed(Resume(renamed_at)) as feed:
        with pytest.raises(TimeoutError):
            await next_item(feed, timeout=0.5)
    async with inkwell.services.live.feed(Resume(renamed_at - 1)) as feed:
        again = [await next_item(feed) for _ in range(3)]
    assert {view.id for view in again} == posts
    assert {view.read_model_position for view in again} == {renamed_at}


async def test_a_post_published_just_after_a_resume_position_is_dropped_once_archived(
    inkwell: Inkwell,
) -> None:
    """The recipe resumes `feed` after the largest position less one, so a client holds
    posts published at `after + 1`: judged as published after `after`, one archived since
    was never sent, and the client listed it for good (a re-check probe)."""
    ann = await user(inkwell, "Ann")
    post = await published(inkwell, ann, "Newest on the page")
    largest = await checkpoint(inkwell)  # its publication: the page's largest position
    await send(inkwell, ArchivePost(post), ann)
    await settle(inkwell)
    async with inkwell.services.live.feed(Resume(largest - 1)) as feed:
        shown = await next_item(feed)
    assert (shown.id, shown.status) == (post, "ARCHIVED")


async def test_an_archiving_whose_later_change_is_unconfirmed_at_the_resume_is_sent(
    inkwell: Inkwell,
) -> None:
    """A resume leaves a change past its read's checkpoint (written, its batch not yet
    confirmed) to the live part. An archived post's later change (its author renamed)
    is judged there from the topic's position, already past the archiving, and not
    shown: a client that dropped before the archiving and resumed at that moment kept
    the post listed for good (seen once by an outside probe, found by reading)."""
    ann = await user(inkwell, "Ann")
    post = await published(inkwell, ann, "Archived while away")
    after = await checkpoint(inkwell)  # the client dropped here
    async with inkwell.services.live.feed() as watcher:  # the topic reads past the archiving
        await send(inkwell, ArchivePost(post), ann)
        assert (await next_item(watcher)).status == "ARCHIVED"
        archived_at = await checkpoint(inkwell)
        # What the rename's batch leaves between its MULTI and its confirmation.
        await inkwell.redis.zadd(inkwell.keys.post_changes(), {post: archived_at + 1})
        await inkwell.redis.hset(inkwell.keys.post(post), "position", archived_at + 1)

        async def confirm_soon() -> None:
            await asyncio.sleep(0.3)  # the resume's read is made meanwhile
            await send(inkwell, RegisterUser("Bob"))  # the checkpoint reaches the change

        confirming = asyncio.create_task(confirm_soon())
        async with inkwell.services.live.feed(Resume(after)) as feed:
            shown = await next_item(feed, timeout=3)
        await confirming
    assert (shown.id, shown.status) == (post, "ARCHIVED")


async def test_such_a_change_never_confirmed_is_resubscribe(
    inkwell: Inkwell, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A projector that died between its two steps leaves its batch unconfirmed until the
    rebuild that follows: the resume cannot tell the archiving, and says so."""
    monkeypatch.setattr(read_models, "CONFIRMATION_SECONDS", 0.5)
    ann = await user(inkwell, "Ann")
    post = await published(inkwell, ann, "Archived while away")
    after = await checkpoint(inkwell)
    await send(inkwell, ArchivePost(post), ann)
    archived_at = await checkpoint(inkwell)
    await inkwell.redis.zadd(inkwell.keys.post_changes(), {post: archived_at + 1})
    await inkwell.redis.hset(inkwell.keys.post(post), "position", archived_at + 1)
    with pytest.raises(Resubscribe, match="still not confirmed"):
        async with inkwell.services.live.feed(Resume(after)):
            pass
    assert inkwell.services.live.subscribers == 0


async def test_resumed_comments_are_those_added_since_and_still_there_then_live(
    inkwell: Inkwell,
) -> None:
    ann = await user(inkwell, "Ann")
    post = await published(inkwell, ann, "Commented")
    other = await published(inkwell, ann, "Other")
    await send(inkwell, AddComment(post, "Seen"), ann)
    after = await checkpoint(inkwell)

    kept = await send(inkwell, AddComment(post, "Kept"), ann)
    deleted = await send(inkwell, AddComment(post, "Deleted"), ann)
    await send(inkwell, AddComment(other, "Elsewhere"), ann)
    await send(inkwell, DeleteComment(deleted["comment_id"]), ann)
    await settle(inkwell)

    async with inkwell.services.live.comments_added(post, Resume(after)) as comments:
        first = await next_item(comments)
        assert (first.id, first.body, first.position) == (
            kept["comment_id"],
            "Kept",
            int(kept["position"]),
        )
        await send(inkwell, AddComment(post, "Live"), ann)
        assert (await next_item(comments)).body == "Live"


async def test_writes_around_the_catch_up_read_arrive_once_each(
    inkwell: Inkwell, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change applied after the subscriber joined its topic but before its catch-up
    read is in both: it is sent once. One applied right after that read is in the live
    part only: it is sent too."""
    ann, bob = await user(inkwell, "Ann"), await user(inkwell, "Bob")
    before_read = await published(inkwell, ann, "Liked before the read")
    after_read = await published(inkwell, ann, "Liked after the read")
    after = await checkpoint(inkwell)
    read = ChangesSince.since

    async def since_amid_writes(source: ChangesSince, *args: Any) -> Any:
        await send(inkwell, LikePost(before_read), bob)
        await settle(inkwell)
        found = await read(source, *args)
        await send(inkwell, LikePost(after_read), bob)
        await settle(inkwell)
        return found

    monkeypatch.setattr(ChangesSince, "since", since_amid_writes)
    async with inkwell.services.live.feed(Resume(after)) as feed:
        shown = [await next_item(feed), await next_item(feed)]
        assert [(v.id, v.like_count) for v in shown] == [(before_read, 1), (after_read, 1)]
        with pytest.raises(TimeoutError):
            await next_item(feed, timeout=1.5)  # a topic reads again after a quiet second


async def test_more_changes_than_the_limit_is_resubscribe_and_as_many_resume(
    inkwell: Inkwell,
) -> None:
    ann = await user(inkwell, "Ann")
    after = await checkpoint(inkwell)
    await published(inkwell, ann, "One")
    await published(inkwell, ann, "Two")
    await settle(inkwell)
    live = inkwell.services.live
    async with live.feed(Resume(after, limit=2)) as feed:
        assert [(await next_item(feed)).title for _ in range(2)] == ["One", "Two"]
    await published(inkwell, ann, "Three")
    await settle(inkwell)
    with pytest.raises(Resubscribe, match="more than 2 changes since position"):
        async with live.feed(Resume(after, limit=2)):
            pass
    assert live.subscribers == 0


async def test_changes_a_subscriber_may_not_see_do_not_count_against_its_limit(
    inkwell: Inkwell,
) -> None:
    """Drafts counted: a resume that fit its limit was refused once someone else wrote a
    draft, so anyone could count the drafts written since any position, and when (the
    limit follows from the subscription's own cost)."""
    ann, bob = await user(inkwell, "Ann"), await user(inkwell, "Bob")
    after = await checkpoint(inkwell)
    await published(inkwell, ann, "One")
    await published(inkwell, ann, "Two")
    for title in ("Secret", "Plans", "Here"):
        await send(inkwell, CreatePost(title, "Body", ()), bob)
    await settle(inkwell)
    async with inkwell.services.live.feed(Resume(after, limit=2)) as feed:
        assert [(await next_item(feed)).title for _ in range(2)] == ["One", "Two"]


async def test_a_position_the_read_models_never_reach_is_resubscribe(inkwell: Inkwell) -> None:
    after = await checkpoint(inkwell) + 1_000
    with pytest.raises(Resubscribe, match="cannot resume after position"):
        async with inkwell.services.live.feed(Resume(after, wait_seconds=0.5)):
            pass
    assert inkwell.services.live.subscribers == 0


async def test_a_position_the_read_models_reach_within_the_wait_resumes(inkwell: Inkwell) -> None:
    """A client may come back to a server whose read models lag what it saw (a replica)."""
    ann, bob, cat = [await user(inkwell, name) for name in ("Ann", "Bob", "Cat")]
    post = await published(inkwell, ann, "Liked twice")
    await settle(inkwell)
    head = await inkwell.store.head_position()

    async def first_item() -> PostView:
        async with inkwell.services.live.feed(Resume(head + 1, wait_seconds=10)) as feed:
            return await next_item(feed, timeout=10)

    resumed = asyncio.create_task(first_item())
    await asyncio.sleep(0.5)
    assert not resumed.done()  # waiting for the read models to reach head + 1
    first = await send(inkwell, LikePost(post), bob)
    assert int(first["position"]) == head + 1
    await send(inkwell, LikePost(post), cat)  # after head + 1: sent, wherever the read lands
    shown = await asyncio.wait_for(resumed, 10)
    assert (shown.id, shown.like_count) == (post, 2)


async def test_a_change_past_the_checkpoint_is_sent_once(inkwell: Inkwell) -> None:
    """A batch's changes are written before its checkpoint moves (a second step): a
    catch-up read between the two saw a change past the checkpoint and sent it, and the
    live part, which sends every change past that checkpoint, sent it again (the same
    post at the same position twice in one resumed stream)."""
    ann = await user(inkwell, "Ann")
    post = await published(inkwell, ann, "Written, not yet confirmed")
    after = await checkpoint(inkwell)
    # What a batch leaves between its MULTI and its confirmation: the post's change
    # recorded one position past the checkpoint.
    await inkwell.redis.zadd(inkwell.keys.post_changes(), {post: after + 1})
    await inkwell.redis.hset(inkwell.keys.post(post), "position", after + 1)
    sent = []
    async with inkwell.services.live.feed(Resume(after)) as feed:
        await send(inkwell, RegisterUser("Bob"))  # confirmed: the checkpoint reaches it
        with pytest.raises(TimeoutError):
            while True:  # a topic reads again after a quiet second
                sent.append((await next_item(feed, timeout=2.5)).id)
    assert sent == [post]


async def test_a_read_that_finds_the_space_swapped_reads_the_posts_in_the_new_one(
    inkwell: Inkwell,
) -> None:
    """A topic that still knew the space before a rebuild's swap looks again in the new
    one: it read the change set there but the posts' hashes under the old space's
    prefix, found them empty, dropped them, and moved past them for good (a feed
    subscriber missed a post published during the rebuild after an empty Redis restart)."""
    ann = await user(inkwell, "Ann")
    after = await checkpoint(inkwell)
    post = await published(inkwell, ann, "Published during the rebuild")
    await settle(inkwell)
    script = inkwell.redis.register_script(CHANGES_SINCE)

    def stale_feed() -> ChangesSince:
        """The feed's source, knowing as active a space a rebuild has replaced."""
        stale = inkwell.keys.with_space("posts", inkwell.keys.new_space("posts", "replaced"))
        return ChangesSince(
            inkwell.redis, script, stale, Keys.post_changes, Keys.post_prefix, _published_post
        )

    topic = stale_feed()
    topic.read_at = after
    changed = await topic.changes(first_state=False)
    assert [(s.key, s.value.title) for s in changed] == [(post, "Published during the rebuild")]
    _, caught_up = await stale_feed().since(after, limit=10)
    assert [s.key for s in caught_up] == [post]


class BudgetSpent(Exception):
    pass


async def test_a_catch_up_is_charged_its_bound_before_it_is_read_and_refunded_the_rest(
    inkwell: Inkwell,
) -> None:
    """Charged once read, a catch-up from an address whose budget was spent was refused
    after Redis had done the reading, again and again; charged one change ahead, a
    catch-up of 3,080 changes still was, for a cost of 1 a time (outside probes). It is
    charged the most it may hold, as a query its pages in full; once read, it keeps what
    it held, and a RESUBSCRIBE keeps one change's cost."""
    ann = await user(inkwell, "Ann")
    after = await checkpoint(inkwell)
    for title in ("One", "Two", "Three"):
        await published(inkwell, ann, title)
    await settle(inkwell)
    settled: list[tuple[int, int]] = []  # (the bound charged, the changes it kept)

    @asynccontextmanager
    async def budget(changes: int) -> AsyncIterator[Held]:
        held = Held()
        try:
            yield held
        finally:
            settled.append((changes, held.changes))

    async with inkwell.services.live.feed(Resume(after, limit=10, charge=budget)) as feed:
        assert [(await next_item(feed)).title for _ in range(3)] == ["One", "Two", "Three"]
    beyond = await checkpoint(inkwell) + 1_000  # a read finds Redis behind: RESUBSCRIBE
    with pytest.raises(Resubscribe):
        async with inkwell.services.live.feed(Resume(beyond, limit=10, charge=budget)):
            pass
    assert settled == [(10, 3), (10, 1)]

    @asynccontextmanager
    async def spent(changes: int) -> AsyncIterator[Held]:
        raise BudgetSpent
        yield Held()

    # The refusal comes before the read, which would end in RESUBSCRIBE.
    with pytest.raises(BudgetSpent):
        async with inkwell.services.live.feed(Resume(beyond, wait_seconds=0, charge=spent)):
            pass
    assert inkwell.services.live.subscribers == 0
