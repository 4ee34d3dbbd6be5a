"""The read models are a function of the log: after a random workload, replaying the whole
log into an empty namespace gives the live read models back, value for value."""

from __future__ import annotations

import random

from domain import streams
from domain.commands import (
    AddComment,
    ArchivePost,
    Command,
    CreatePost,
    DeleteComment,
    LikePost,
    PublishPost,
    RegisterUser,
    UnlikePost,
    UpdatePost,
    UpdateProfile,
)
from domain.errors import DomainError
from harness.sample_text import WORDS, text
from projections.tools.verify import differences, drop, dump, replay
from tests.support.in_process import send, settle
from wiring.bootstrap import PROJECTIONS, Inkwell


async def random_workload(inkwell: Inkwell, rng: random.Random, commands: int) -> int:
    """Sends `commands` random commands, some of which the rules refuse; returns how many landed."""
    users = [(await send(inkwell, RegisterUser(f"User {i}")))["user_id"] for i in range(6)]
    authors: dict[str, str] = {}  # post id -> its author
    comments: list[str] = []
    landed = 0
    for _ in range(commands):
        actor, command = await _pick(inkwell, rng, users, authors, comments)
        try:
            ids = await send(inkwell, command, actor)
        except DomainError:
            continue
        landed += 1
        if isinstance(command, CreatePost):
            authors[ids["post_id"]] = actor
        elif isinstance(command, AddComment):
            comments.append(ids["comment_id"])
    return landed


async def _pick(
    inkwell: Inkwell,
    rng: random.Random,
    users: list[str],
    authors: dict[str, str],
    comments: list[str],
) -> tuple[str, Command]:
    """A random command and who sends it: mostly someone allowed to, sometimes not."""

    reader = rng.choice(users)
    kind = rng.choices(
        ["create", "update", "publish", "archive", "like", "unlike", "comment", "delete", "rename"],
        weights=[12, 8, 14, 2, 20, 6, 20, 6, 4],
    )[0]
    if kind == "create" or not authors:
        tags = tuple(rng.sample(WORDS, rng.randint(0, 3)))
        return reader, CreatePost(text(rng, 3).title(), text(rng, 12), tags)
    post = rng.choice(list(authors))
    owner = authors[post] if rng.random() < 0.9 else reader
    if kind == "update":
        _, version = await inkwell.store.load(streams.post(post))
        title, tags = text(rng, 2), tuple(rng.sample(WORDS, 2))
        return owner, UpdatePost(post, version, title=title, tags=tags)
    if kind == "publish":
        return owner, PublishPost(post)
    if kind == "archive":
        return owner, ArchivePost(post)
    if kind == "like":
        return reader, LikePost(post)
    if kind == "unlike":
        return reader, UnlikePost(post)
    if kind == "delete" and comments:
        return reader, DeleteComment(rng.choice(comments))
    if kind == "rename":
        avatar = rng.choice(["", "https://a.example/x.png"])
        return reader, UpdateProfile(name=f"User {rng.randint(0, 99)}", avatar_url=avatar)
    return reader, AddComment(post, text(rng, 6))


NAMES = [projection.name for projection in PROJECTIONS]


async def test_replaying_the_log_rebuilds_the_live_read_models_exactly(inkwell: Inkwell) -> None:
    landed = await random_workload(inkwell, random.Random(20261127), commands=600)
    assert landed > 250, f"only {landed} of 600 commands landed"
    await settle(inkwell)
    scratch = await replay(inkwell.redis, inkwell.store, inkwell.keys, PROJECTIONS)
    try:
        live = await dump(inkwell.redis, inkwell.keys.space("posts"))
        assert len(live) > 100
        assert await differences(inkwell.redis, inkwell.keys, scratch, NAMES) == []
    finally:
        await drop(inkwell.redis, scratch, NAMES)


async def test_verification_notices_a_tampered_read_model(inkwell: Inkwell) -> None:
    await random_workload(inkwell, random.Random(7), commands=40)
    await settle(inkwell)
    scratch = await replay(inkwell.redis, inkwell.store, inkwell.keys, PROJECTIONS)
    try:
        users = inkwell.keys.user("")
        some_user = await anext(inkwell.redis.scan_iter(match=f"{users}*"))
        await inkwell.redis.hset(some_user, "name", "Tampered")
        extra = inkwell.keys.by_tag("only-live")
        await inkwell.redis.zadd(extra, {"x": 1})
        found = await differences(inkwell.redis, inkwell.keys, scratch, NAMES)
        assert len(found) == 2 and "Tampered" in found[0] + found[1]
        await inkwell.redis.delete(extra)
        await inkwell.redis.delete(some_user)
        found = await differences(inkwell.redis, inkwell.keys, scratch, NAMES)
        assert len(found) == 1 and "live None" in found[0]
    finally:
        await drop(inkwell.redis, scratch, NAMES)


async def test_verification_compares_the_recent_events_and_leaves_them_alone(
    inkwell: Inkwell,
) -> None:
    """The list lives in its projection's space: a replay builds its own, and an entry
    changed in the live one is a difference."""
    await random_workload(inkwell, random.Random(11), commands=20)
    await settle(inkwell)
    key = inkwell.keys.recent_events()
    scratch = await replay(inkwell.redis, inkwell.store, inkwell.keys, PROJECTIONS)
    try:
        assert await differences(inkwell.redis, inkwell.keys, scratch, NAMES) == []
        entries = await inkwell.redis.zrevrange(key, 0, 0, withscores=True)
        newest, position = str(entries[0][0]), float(entries[0][1])
        await inkwell.redis.zadd(key, {newest.replace('"type":"', '"type":"Forged'): position})
        await inkwell.redis.zrem(key, newest)
        found = await differences(inkwell.redis, inkwell.keys, scratch, NAMES)
        assert len(found) == 1 and found[0].startswith("recent_events")
    finally:
        await drop(inkwell.redis, scratch, NAMES)
