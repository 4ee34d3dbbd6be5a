"""The peer in the write benchmark: the `eventsourcing` library's SQLite application.

A post aggregate in the library's own style (decorated methods that decide and
apply), saved by `Application.save`, read back by `repository.get`. No aggregate
cache and no snapshots, so every get replays the stream, as Inkwell's handlers do.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

Command = Callable[[int], object]


class Post(Aggregate):
    @event("Created")
    def __init__(self, title: str, content: str) -> None:
        self.title = title
        self.content = content

    @event("Updated")
    def update(self, title: str, content: str) -> None:
        self.title = title
        self.content = content


class Blog(Application[UUID]):
    def create_post(self, title: str) -> UUID:
        """create + save."""
        post = Post(title, "Text.")
        self.save(post)
        return post.id

    def update_post(self, post_id: UUID, title: str) -> None:
        """get + mutate + save."""
        post: Post = self.repository.get(post_id)
        post.update(title, post.content)
        self.save(post)


def open_blog(database: Path) -> Blog:
    return Blog(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(database)})


def creators(blog: Blog, workers: int) -> list[Command]:
    """Each worker's command: create a post."""
    return [lambda n: blog.create_post(f"Post {n}")] * workers


def updaters(blog: Blog, workers: int, posts: int) -> list[Command]:
    """Each worker's command: update the next of its own posts, made before the clock starts."""
    made = [Post("Mine", "Text.") for _ in range(posts)]
    blog.save(*made)
    ids = [post.id for post in made]
    return [_editor(blog, ids[worker::workers]) for worker in range(workers)]


def _editor(blog: Blog, mine: list[UUID]) -> Command:
    return lambda n: blog.update_post(mine[n % len(mine)], f"Edit {n}")
