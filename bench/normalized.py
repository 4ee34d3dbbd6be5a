"""The normalized side of the CQRS payoff benchmark: users, posts, comments and likes
tables in SQLite, indexed, filled from the same events as the read model, and the feed
read from them the way a good engineer would, and the naive way."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from domain.events import CommentAdded, PostCreated, PostLiked, PostPublished, UserRegistered
from domain.ports import RecordedEvent

SCHEMA = """
CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE posts (id TEXT PRIMARY KEY, author_id TEXT NOT NULL REFERENCES users(id),
                    title TEXT NOT NULL, published_at TEXT);
CREATE TABLE comments (id TEXT PRIMARY KEY, post_id TEXT NOT NULL REFERENCES posts(id),
                       author_id TEXT NOT NULL REFERENCES users(id), body TEXT NOT NULL,
                       created_at TEXT NOT NULL);
CREATE TABLE likes (post_id TEXT NOT NULL REFERENCES posts(id),
                    user_id TEXT NOT NULL REFERENCES users(id), PRIMARY KEY (post_id, user_id));
CREATE INDEX posts_published ON posts(published_at) WHERE published_at IS NOT NULL;
CREATE INDEX comments_newest ON comments(post_id, created_at);
"""

NEWEST = """SELECT p.id, p.title, u.name FROM posts p JOIN users u ON u.id = p.author_id
WHERE p.published_at IS NOT NULL ORDER BY p.published_at DESC LIMIT 20"""
LIKES = "SELECT COUNT(*) FROM likes WHERE post_id = ?"
COMMENTS = "SELECT COUNT(*) FROM comments WHERE post_id = ?"
TOP = """SELECT c.body, c.created_at, u.name FROM comments c JOIN users u ON u.id = c.author_id
WHERE c.post_id = ? ORDER BY c.created_at DESC LIMIT 3"""
NAIVE = """SELECT p.id, p.title, u.name, COUNT(DISTINCT l.user_id), COUNT(DISTINCT c.id)
FROM posts p JOIN users u ON u.id = p.author_id
LEFT JOIN likes l ON l.post_id = p.id LEFT JOIN comments c ON c.post_id = p.id
WHERE p.published_at IS NOT NULL GROUP BY p.id ORDER BY p.published_at DESC LIMIT 20"""

Feed = list[tuple[str, str, str, int, int, list[tuple[str, str, str]]]]


class Aborted(Exception):
    """The naive query ran past its time limit and was interrupted."""


def connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("PRAGMA busy_timeout=10000")
    return connection


def create(path: Path) -> sqlite3.Connection:
    connection = connect(path)
    connection.executescript(SCHEMA)
    return connection


def load(
    connection: sqlite3.Connection, events: Iterable[RecordedEvent], *, analyze: bool = True
) -> None:
    """Inserts what the events say, in one transaction; then refreshes the planner's
    statistics, unless `analyze` is False (a writer's small batches)."""
    rows: dict[str, list[tuple[str, ...]]] = {"users": [], "posts": [], "comments": [],
                                              "likes": [], "published": []}  # fmt: skip
    for recorded in events:
        match recorded.event:
            case UserRegistered(user_id=user_id, name=name):
                rows["users"].append((user_id, name))
            case PostCreated(post_id=post_id, author_id=author_id, title=title):
                rows["posts"].append((post_id, author_id, title))
            case PostPublished(post_id=post_id, published_at=published_at):
                rows["published"].append((published_at.isoformat(), post_id))
            case CommentAdded(comment_id=cid, post_id=pid, author_id=aid, body=body, created_at=at):
                rows["comments"].append((cid, pid, aid, body, at.isoformat()))
            case PostLiked(post_id=post_id, user_id=user_id):
                rows["likes"].append((post_id, user_id))
    connection.execute("BEGIN")
    connection.executemany("INSERT INTO users VALUES (?, ?)", rows["users"])
    connection.executemany("INSERT INTO posts VALUES (?, ?, ?, NULL)", rows["posts"])
    connection.executemany("UPDATE posts SET published_at = ? WHERE id = ?", rows["published"])
    connection.executemany("INSERT INTO comments VALUES (?, ?, ?, ?, ?)", rows["comments"])
    connection.executemany("INSERT INTO likes VALUES (?, ?)", rows["likes"])
    connection.execute("COMMIT")
    if analyze:
        connection.execute("ANALYZE")


def best(connection: sqlite3.Connection) -> Feed:
    """The newest 20 through their index, then each one's counts and top comments."""
    feed: Feed = []
    for post_id, title, author in connection.execute(NEWEST).fetchall():
        likes = connection.execute(LIKES, (post_id,)).fetchone()[0]
        comments = connection.execute(COMMENTS, (post_id,)).fetchone()[0]
        top = connection.execute(TOP, (post_id,)).fetchall()
        feed.append((post_id, title, author, likes, comments, top))
    return feed


def naive(connection: sqlite3.Connection, limit_seconds: float) -> Feed:
    """One JOIN + GROUP BY + COUNT for the page, then the top comments; interrupted
    (Aborted) after `limit_seconds`."""
    deadline = time.perf_counter() + limit_seconds

    def past_deadline() -> int:
        return 1 if time.perf_counter() > deadline else 0

    connection.set_progress_handler(past_deadline, 10_000)
    try:
        rows = connection.execute(NAIVE).fetchall()
    except sqlite3.OperationalError as error:
        raise Aborted from error
    finally:
        connection.set_progress_handler(None, 0)
    return [
        (post_id, title, author, likes, comments, connection.execute(TOP, (post_id,)).fetchall())
        for post_id, title, author, likes, comments in rows
    ]
