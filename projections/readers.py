"""Read models as the API sees them: every query is answered from Redis alone.

One round trip per list: a page of ids, then one pipeline for all their hashes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from projections import pagination
from projections.keys import Keys
from projections.views import PostView, ProjectionStatusView, UserView


@dataclass(frozen=True)
class PostPage:
    posts: list[tuple[str, PostView]]  # (cursor, post)
    has_next: bool
    total: int


class ReadModels:
    def __init__(self, redis: Redis, keys: Keys, projections: Sequence[str]) -> None:
        self._redis = redis
        self._keys = keys
        self._projections = tuple(projections)

    async def post(self, post_id: str, viewer_id: str | None) -> PostView | None:
        fields = await self._redis.hgetall(self._keys.post(post_id))
        if not fields:
            return None
        post = PostView.from_hash(fields)
        return post if post.visible_to(viewer_id) else None

    async def user(self, user_id: str) -> UserView | None:
        fields = await self._redis.hgetall(self._keys.user(user_id))
        return UserView.from_hash(fields) if fields else None

    async def recent_posts(self, first: int, after: str | None) -> PostPage:
        return await self._page(self._keys.recent(), first, after, viewer_id=None)

    async def posts_by_author(
        self, author_id: str, viewer_id: str | None, first: int, after: str | None
    ) -> PostPage:
        """The author's published posts; the author themself also sees their drafts."""
        key = (
            self._keys.by_author_with_drafts(author_id)
            if viewer_id == author_id
            else self._keys.by_author(author_id)
        )
        return await self._page(key, first, after, viewer_id)

    async def projection_statuses(self) -> list[ProjectionStatusView]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.mget([self._keys.checkpoint(name) for name in self._projections])
            pipe.zscore(self._keys.head(), "head")
            checkpoints, head = await pipe.execute()
        return [
            ProjectionStatusView(name, int(checkpoint or 0), int(head or 0))
            for name, checkpoint in zip(self._projections, checkpoints, strict=True)
        ]

    async def _page(self, key: str, first: int, after: str | None, viewer_id: str | None) -> PostPage:
        page = await pagination.newest_first(self._redis, key, first, after)
        async with self._redis.pipeline(transaction=False) as pipe:
            for item in page.items:
                pipe.hgetall(self._keys.post(item.member))
            hashes = await pipe.execute()
        # A list may briefly name a post the posts projection has not caught up with,
        # or one that changed status since; such posts are left out, not shown half-made.
        posts = [
            (item.cursor(), post)
            for item, fields in zip(page.items, hashes, strict=True)
            if fields and (post := PostView.from_hash(fields)).visible_to(viewer_id)
        ]
        return PostPage(posts, page.has_next, page.total)
