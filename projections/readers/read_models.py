"""Read models as the API sees them: every query is answered from Redis alone.

A page of posts is one round trip (a Lua script reads the page and its posts' hashes);
other lists take two: a page of ids, then one batch for all their hashes. Hashes are
read in batches shared with the other requests of the moment (batched_reads.py).
"""

from __future__ import annotations

import heapq
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from redis.asyncio import Redis

from domain.rules import TAG_PATTERN
from projections.keyspace.keys import Keys
from projections.keyspace.search_words import words
from projections.readers import pagination
from projections.readers.batched_reads import BatchedReads
from projections.readers.pagination import BadPageRequest, Charge, Count, Page, Position, Slice
from projections.readers.statuses import LogHead, projection_statuses
from projections.readers.views import (
    CommentView,
    PostView,
    ProjectionStatusView,
    RecentEventView,
    UserView,
    post_visible,
    readable,
)
from projections.redisio.read_only_scripts import ReadOnlyScript

NEWEST_PAGE = (Path(__file__).parent / "lua" / "newest_page.lua").read_text()
SEARCH_MAX_LENGTH = 200
# The ids the server makes (str(uuid4())); anything else names nothing, unread.
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SEARCH_MAX_WORDS = 10


class BadSearch(ValueError):
    pass


@dataclass(frozen=True)
class PostPage:
    posts: list[tuple[str, PostView]]  # (cursor, post)
    has_next: bool
    total: int | Count  # a search's is counted when asked (pagination.Page)
    has_previous: bool = False


# A CommentPage.post_position no post holds: a comment of the page was deleted between
# its two round trips, so the page is not of any one moment.
GONE_MEANWHILE = -1


@dataclass(frozen=True)
class CommentPage:
    comments: list[tuple[str, CommentView]]  # (cursor, comment)
    has_next: bool
    total: int | Count  # always counted with the page (pagination.pages)
    has_previous: bool = False
    # The post's `position` (PostView.read_model_position), read with the page in one
    # MULTI: a page of the post as it was read before, if that is what the post held.
    post_position: int | None = None


class ReadModels:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        projections: Sequence[str],
        batched: BatchedReads,
        log_head: LogHead | None = None,
    ) -> None:
        """`batched` reads on `redis`'s server; `log_head`, the event log's head, where
        Redis lost its own (projection_statuses)."""
        self._redis = redis
        self._log_head = log_head
        self._batched = batched
        self._keys = keys
        self._projections = tuple(projections)
        self._newest_page = ReadOnlyScript(redis, NEWEST_PAGE)
        self._intersection_slice = ReadOnlyScript(redis, pagination.INTERSECTION_SLICE)

    async def post(self, post_id: str, viewer_id: str | None) -> PostView | None:
        post = readable(PostView.from_hash, await self._hash(self._keys.post(post_id)))
        return post if post is not None and post.visible_to(viewer_id) else None

    async def user(self, user_id: str) -> UserView | None:
        return readable(UserView.from_hash, await self._hash(self._keys.user(user_id)))

    async def comment(self, comment_id: str) -> CommentView | None:
        return readable(CommentView.from_hash, await self._hash(self._keys.comment(comment_id)))

    async def nodes(
        self, ids: Sequence[str], viewer_id: str | None
    ) -> list[PostView | UserView | CommentView | None]:
        """Posts, users and comments by id, whichever each id names (ids are UUIDs made by
        the server, so one names one object at most), in one round trip, each id read
        once however often it is asked for (an outside probe asked for one post of 400 KB
        a hundred times); a post or a comment the viewer may not see counts as missing.
        A comment's post is read in a second round trip, by its status and author only.
        An id is read in lower case, the form the server issues, as every other field
        that takes one reads it (schema/ids.py): `post(id:)` found an upper-case id's
        post, and `node(id:)` answered null for it (an outside probe)."""
        ids = [id_.lower() for id_ in ids]
        wanted = list(dict.fromkeys(id_ for id_ in ids if UUID.fullmatch(id_)))
        async with self._redis.pipeline(transaction=False) as pipe:
            for id_ in wanted:
                pipe.hgetall(self._keys.post(id_))
                pipe.hgetall(self._keys.user(id_))
                pipe.hgetall(self._keys.comment(id_))
            replies = iter(await pipe.execute())
        found = {id_: _view(next(replies), next(replies), next(replies)) for id_ in wanted}
        posts = {view.post_id for view in found.values() if isinstance(view, CommentView)}
        seen = await self._visible_posts(sorted(posts), viewer_id) if posts else set()
        for id_, view in found.items():
            hidden_post = isinstance(view, PostView) and not view.visible_to(viewer_id)
            if hidden_post or (isinstance(view, CommentView) and view.post_id not in seen):
                found[id_] = None
        return [found.get(id_) for id_ in ids]

    async def _visible_posts(self, post_ids: Sequence[str], viewer_id: str | None) -> set[str]:
        """Those of the posts the viewer may see (a comment of a hidden post is hidden)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for post_id in post_ids:
                pipe.hmget(self._keys.post(post_id), "status", "authorId")
            replies = await pipe.execute()
        return {
            post_id
            for post_id, (status, author_id) in zip(post_ids, replies, strict=True)
            if status is not None
            and author_id is not None
            and post_visible(status, author_id, viewer_id)
        }

    async def recent_posts(self, window: Slice) -> PostPage:
        return await self._post_page(self._keys.recent(), window, viewer_id=None)

    async def posts_by_author(
        self, author_id: str, viewer_id: str | None, window: Slice
    ) -> PostPage:
        """The author's published posts; the author themself also sees their drafts."""
        key = (
            self._keys.by_author_with_drafts(author_id)
            if viewer_id == author_id
            else self._keys.by_author(author_id)
        )
        return await self._post_page(key, window, viewer_id)

    async def posts_by_tag(self, tag: str, window: Slice) -> PostPage:
        """A tag no post can carry (domain/rules.py) has none, and names no key: a lone
        surrogate in one could not even be sent to Redis (INTERNAL_SERVER_ERROR)."""
        tag = tag.strip().lower()
        if not TAG_PATTERN.fullmatch(tag):
            window.check()
            return PostPage([], has_next=False, total=0)
        return await self._post_page(self._keys.by_tag(tag), window, None)

    async def search_posts(self, query: str, window: Slice, charge: Charge) -> PostPage:
        """Published posts holding every word of the query, newest first. A search of
        several words walks their sets inside Redis; what that costs is passed to `charge`
        as it goes (pagination.in_every)."""
        if len(query) > SEARCH_MAX_LENGTH:
            raise BadSearch(f"a search is at most {SEARCH_MAX_LENGTH} characters")
        wanted = words(query)
        if not wanted or len(wanted) > SEARCH_MAX_WORDS:
            raise BadSearch(
                f"a search needs 1-{SEARCH_MAX_WORDS} words of 2 or more letters or digits"
            )
        keys = [self._keys.search_word(word) for word in wanted]
        if len(keys) == 1:
            return await self._post_page(keys[0], window, None)
        return await self._posts(
            await pagination.in_every(self._intersection_slice, keys, window, charge), None
        )

    async def popular_posts(self, first: int) -> list[PostView]:
        pagination.check_first(first)
        ids = cast(
            list[str],
            await self._redis.zrevrange(self._keys.popular(), 0, first - 1) if first else [],
        )
        posts = await self._hashes([self._keys.post(post_id) for post_id in ids])
        return [
            view
            for fields in posts
            if (view := readable(PostView.from_hash, fields)) is not None and view.visible_to(None)
        ]

    async def comment_pages(
        self, requests: Sequence[tuple[str, Slice]]
    ) -> list[CommentPage | BadPageRequest]:
        """Posts' comment pages, oldest first, (post id, window) each, in two round trips
        however many posts: a page of 100 posts asks once, not 200 times. Each carries
        the position its post held when the page was read (`CommentPage.post_position`)."""
        found = await pagination.pages(
            self._redis,
            [(self._keys.post_comment_ids(post_id), window) for post_id, window in requests],
            newest_first=False,
            stamps=[(self._keys.post(post_id), "position") for post_id, _ in requests],
        )
        members = [item.member for page in found if isinstance(page, Page) for item in page.items]
        hashes = iter(await self._hashes([self._keys.comment(member) for member in members]))
        pages: list[CommentPage | BadPageRequest] = []
        for page in found:
            if isinstance(page, BadPageRequest):
                pages.append(page)
                continue
            comments = [
                (item.cursor(), comment)
                for item in page.items
                if (comment := readable(CommentView.from_hash, next(hashes))) is not None
            ]
            # A comment listed and gone by the second round trip (deleted meanwhile) makes
            # the page a later post's too: its edges one short of its totalCount.
            position = None if page.stamp is None else int(page.stamp)
            if len(comments) < len(page.items):
                position = GONE_MEANWHILE
            pages.append(
                CommentPage(comments, page.has_next, page.total, page.has_previous, position)
            )
        return pages

    async def liked_by(
        self, viewer_id: str, post_ids: Sequence[str]
    ) -> list[tuple[bool, int | None]]:
        """Whether the viewer likes each post, with the position the post held then (read
        in one MULTI, as a comments page is read with it): a like read with a later post
        than its likeCount's showed `likeCount: 0, likedByViewer: true`."""
        async with self._redis.pipeline(transaction=True) as pipe:
            for post_id in post_ids:
                pipe.sismember(self._keys.post_likers(post_id), viewer_id)
                pipe.hget(self._keys.post(post_id), "position")
            replies = await pipe.execute()
        return [
            (bool(liked), None if position is None else int(position))
            for liked, position in zip(replies[::2], replies[1::2], strict=True)
        ]

    async def projection_statuses(self) -> list[ProjectionStatusView]:
        return await projection_statuses(self._redis, self._keys, self._projections, self._log_head)

    async def recent_events(self, first: int, viewer_id: str | None) -> list[RecentEventView]:
        """The newest events of the log the viewer may see, newest first: those everybody
        may see and, for a signed-in viewer, their own posts' that nobody else may, as the
        recent-events projection splits them (projections/projectors/recent_events.py).
        One ZREVRANGE each, in one batch with the other reads of the moment."""
        pagination.check_first(first)
        if first == 0:
            return []
        lists = [self._keys.recent_public_events()]
        if viewer_id:
            lists.append(self._keys.recent_own_events(viewer_id))
        replies = await self._batched.many(
            [("ZREVRANGE", key, 0, first - 1, "WITHSCORES") for key in lists]
        )
        return [
            RecentEventView.from_json(entry, viewer_id) for entry in newest_events(replies, first)
        ]

    async def _post_page(self, key: str, window: Slice, viewer_id: str | None) -> PostPage:
        """Newest first. A forward page is one round trip (lua/newest_page.lua); its cursor
        names an item the client saw, so there are edges before it. Backward pages and
        pages bounded by `before` walk the sorted set (projections/readers/pagination.py)."""
        if window.backward or window.before is not None:
            page = await pagination.newest_first(self._redis, key, window)
            return await self._posts(page, viewer_id)
        start, _ = window.check()
        first = window.first
        total, flat, hashes = cast(
            list[Any],
            await self._newest_page(
                keys=[key],
                args=[
                    self._keys.post(""), start.score if start else "",
                    start.member if start else "", first,
                ],
            ),
        )  # fmt: skip
        items = [Position(int(flat[i + 1]), flat[i]) for i in range(0, len(flat), 2)]
        return self._views(
            pagination.Page(
                items[:first],
                has_next=len(items) > first,
                total=int(total),
                has_previous=start is not None,
            ),
            [dict(zip(h[::2], h[1::2], strict=True)) for h in hashes],
            viewer_id,
        )

    async def _posts(self, page: Page, viewer_id: str | None) -> PostPage:
        hashes = await self._hashes([self._keys.post(item.member) for item in page.items])
        return self._views(page, hashes, viewer_id)

    @staticmethod
    def _views(page: Page, hashes: list[dict[str, str]], viewer_id: str | None) -> PostPage:
        # A list may briefly name a post the posts projection has not caught up with,
        # or one that changed status since; such posts are left out, not shown half-made.
        posts = [
            (item.cursor(), post)
            for item, fields in zip(page.items, hashes, strict=True)
            if (post := readable(PostView.from_hash, fields)) is not None
            and post.visible_to(viewer_id)
        ]
        return PostPage(posts, page.has_next, page.total, page.has_previous)

    async def _hash(self, key: str) -> dict[str, str]:
        return _fields(await self._batched.one("HGETALL", key))

    async def _hashes(self, keys: list[str]) -> list[dict[str, str]]:
        if not keys:
            return []
        return [
            _fields(reply) for reply in await self._batched.many([("HGETALL", key) for key in keys])
        ]


def _fields(reply: dict[str, str] | list[str]) -> dict[str, str]:
    """A hash as HGETALL answers it: a map (RESP3) or a flat list of names and values (RESP2)."""
    return reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2], strict=True))


def newest_events(replies: Sequence[list[Any]], first: int) -> list[str | bytes]:
    """The entries of ZREVRANGE WITHSCORES replies of event lists (scored by log
    position), newest first, each position once, at most `first`. The public list and
    the viewer's own are read in one batch, not one transaction: when the projector's
    recompute ran between the two reads (an archiving moves a post's entries from the
    public list to its author's), the author was shown those entries twice."""
    newest = heapq.merge(*(_scored(reply) for reply in replies), reverse=True)
    once = (next(same)[1] for _, same in itertools.groupby(newest, key=lambda pair: pair[0]))
    return list(itertools.islice(once, first))


def _scored(reply: list[Any]) -> list[tuple[float, str | bytes]]:
    """ZREVRANGE WITHSCORES as sent in a batch, unparsed: member, score, ... (RESP2), or
    [member, score] pairs (RESP3); as (score, member), newest first."""
    if reply and isinstance(reply[0], list):
        return [(float(score), member) for member, score in reply]
    return [(float(score), member) for member, score in zip(reply[::2], reply[1::2], strict=True)]


def _view(
    post: dict[str, str], user: dict[str, str], comment: dict[str, str]
) -> PostView | UserView | CommentView | None:
    """The object the one non-empty hash holds; a malformed one counts as missing."""
    if post:
        return readable(PostView.from_hash, post)
    if user:
        return readable(UserView.from_hash, user)
    return readable(CommentView.from_hash, comment)
