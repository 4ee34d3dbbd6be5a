"""A blog's event log of a given size, written straight into a fresh SQLite event store.

The events are what the command handlers would decide (users register and
rename themselves; posts are created, edited, published and archived; readers
like, unlike, comment and delete comments), in one plausible order, but they are
inserted in large transactions rather than sent as commands: a benchmark of the
read side should not spend minutes on the write side first.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from domain import streams
from domain.events import (
    CommentAdded,
    CommentDeleted,
    Event,
    PostArchived,
    PostCreated,
    PostLiked,
    PostPublished,
    PostUnliked,
    PostUpdated,
    ProfileUpdated,
    UserRegistered,
)
from domain.ports import AppendRequest, CommandRecord
from domain.upcasting import SCHEMAS
from eventstore.codec import event_rows
from eventstore.engines import open_engines
from eventstore.tables import events as events_table
from harness.sample_text import text

TAGS = ["cqrs", "redis", "python", "events", "graphql", "design", "ops", "testing"]


class _Blog:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.clock = datetime(2026, 1, 1, tzinfo=UTC)
        self.versions: dict[str, int] = {}
        self.users: list[str] = []
        self.posts: list[tuple[str, str]] = []  # (post, author)
        self.published: list[str] = []
        self.likes: set[tuple[str, str]] = set()
        self.comments: list[tuple[str, str, str]] = []  # (comment, post, author)

    def now(self) -> datetime:
        self.clock += timedelta(milliseconds=self.rng.randint(1, 900))
        return self.clock

    def text(self, n: int) -> str:
        return text(self.rng, n)

    def event(self, stream: str, event: Event) -> AppendRequest:
        version = self.versions.get(stream, 0)
        self.versions[stream] = version + 1
        command = CommandRecord(str(uuid.uuid4()), "Bench", None, str(uuid.uuid4()), None)
        return AppendRequest(stream, version, (event,), command, {})

    def next(self) -> AppendRequest:
        """One event, chosen with the weights of a busy blog."""
        rng = self.rng
        roll = rng.random()
        if not self.users or roll < 0.01:
            user = str(uuid.uuid4())
            self.users.append(user)
            return self.event(
                streams.user(user),
                UserRegistered(user, f"User {len(self.users)}", None, "", self.now()),
            )
        if roll < 0.015:
            user = rng.choice(self.users)
            avatar = rng.choice([None, "https://a.example/x.png"])
            return self.event(
                streams.user(user),
                ProfileUpdated(user, f"Renamed {rng.randint(0, 999)}", avatar, "", self.now()),
            )
        if not self.posts or roll < 0.12:
            post, author = str(uuid.uuid4()), rng.choice(self.users)
            self.posts.append((post, author))
            tags = tuple(rng.sample(TAGS, rng.randint(0, 3)))
            created = PostCreated(
                post, author, self.text(4).title(), self.text(30), tags, self.now()
            )
            return self.event(streams.post(post), created)
        if roll < 0.14:
            post, author = rng.choice(self.posts)
            tags = tuple(rng.sample(TAGS, rng.randint(0, 3)))
            updated = PostUpdated(
                post, author, self.text(4).title(), self.text(30), tags, self.now()
            )
            return self.event(streams.post(post), updated)
        if roll < 0.22 or not self.published:
            post, author = rng.choice(self.posts)
            self.published.append(post)
            return self.event(streams.post(post), PostPublished(post, author, self.now()))
        if roll < 0.222:
            post, author = rng.choice(self.posts)
            return self.event(streams.post(post), PostArchived(post, author, self.now(), True))
        if roll < 0.62:
            post, user = rng.choice(self.published), rng.choice(self.users)
            if (post, user) in self.likes:
                self.likes.discard((post, user))
                return self.event(streams.like(post, user), PostUnliked(post, user, self.now()))
            self.likes.add((post, user))
            return self.event(streams.like(post, user), PostLiked(post, user, self.now()))
        if roll < 0.97 or not self.comments:
            comment, post, user = (
                str(uuid.uuid4()),
                rng.choice(self.published),
                rng.choice(self.users),
            )
            self.comments.append((comment, post, user))
            added = CommentAdded(comment, post, user, self.text(12), self.now())
            return self.event(streams.comment(comment), added)
        comment, post, user = self.comments.pop(rng.randrange(len(self.comments)))
        deleted = CommentDeleted(comment, post, user, user, self.now())
        return self.event(streams.comment(comment), deleted)


def requests(count: int, seed: int = 11) -> Iterator[AppendRequest]:
    blog = _Blog(random.Random(seed))
    for _ in range(count):
        yield blog.next()


def write(database: Path, count: int, chunk: int = 10_000) -> str:
    """Creates the store at `database` holding `count` events; returns its URL."""
    url = f"sqlite:///{database}"
    engines = open_engines(url)
    try:
        rows = []
        with engines.writer.begin() as conn:
            for request in requests(count):
                rows += event_rows(request, _now(), SCHEMAS)
                if len(rows) >= chunk:
                    conn.execute(insert(events_table), rows)
                    rows = []
            if rows:
                conn.execute(insert(events_table), rows)
    finally:
        engines.dispose()
    return url


def _now() -> datetime:
    return datetime.now(UTC)
