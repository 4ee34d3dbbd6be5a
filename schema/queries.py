"""Query: every field resolves from the Redis read models, never from SQL."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from projections.readers.pagination import MAX_FIRST
from projections.readers.views import CommentView, PostView, UserView
from protection.query_cost_rate import searching
from schema import ids
from schema.context import Context
from schema.errors import BadInput
from schema.types import (
    LAST,
    Comment,
    Connection,
    Node,
    Post,
    ProjectionStatus,
    RecentEvent,
    User,
    page_size,
    post_connection,
    window,
)


@strawberry.type
class Query:
    @strawberry.field(
        description=(
            "Drafts and archived posts are visible to their author only; null for everyone else."
        )
    )
    async def post(self, info: Info[Context, None], id: strawberry.ID) -> Post | None:
        view = await info.context.reads.post(ids.entity_id(id, "id"), info.context.viewer_id)
        return Post.from_view(view) if view else None

    @strawberry.field
    async def user(self, info: Info[Context, None], id: strawberry.ID) -> User | None:
        view = await info.context.reads.user(ids.entity_id(id, "id"))
        return User.from_view(view) if view else None

    @strawberry.field(description="The authenticated user, or null.")
    async def viewer(self, info: Info[Context, None]) -> User | None:
        viewer_id = info.context.viewer_id
        view = await info.context.reads.user(viewer_id) if viewer_id else None
        return User.from_view(view) if view else None

    @strawberry.field(description="Published posts, newest publishedAt first.")
    async def recent_posts(
        self,
        info: Info[Context, None],
        first: int | None = 20,
        after: str | None = None,
        last: Annotated[int | None, LAST] = None,
        before: str | None = None,
    ) -> Connection[Post]:
        page = await info.context.reads.recent_posts(window(info, first, after, last, before))
        return post_connection(page)

    @strawberry.field(description="Published posts of one author, newest first.")
    async def posts_by_author(
        self,
        info: Info[Context, None],
        author_id: strawberry.ID,
        first: int | None = 20,
        after: str | None = None,
        last: Annotated[int | None, LAST] = None,
        before: str | None = None,
    ) -> Connection[Post]:
        # The public list, even for the author: their drafts show only under User.posts.
        page = await info.context.reads.posts_by_author(
            ids.entity_id(author_id, "authorId"), None, window(info, first, after, last, before)
        )
        return post_connection(page)

    @strawberry.field(description="Published posts carrying the tag, newest first.")
    async def posts_by_tag(
        self,
        info: Info[Context, None],
        tag: str,
        first: int | None = 20,
        after: str | None = None,
        last: Annotated[int | None, LAST] = None,
        before: str | None = None,
    ) -> Connection[Post]:
        page = await info.context.reads.posts_by_tag(tag, window(info, first, after, last, before))
        return post_connection(page)

    @strawberry.field(
        description=(
            "Published posts whose title, content or tags contain every word of the query "
            "(case-insensitive), newest first."
        )
    )
    async def search_posts(
        self,
        info: Info[Context, None],
        query: str,
        first: int | None = 20,
        after: str | None = None,
        last: Annotated[int | None, LAST] = None,
        before: str | None = None,
    ) -> Connection[Post]:
        page = await info.context.reads.search_posts(
            query, window(info, first, after, last, before), searching(info.context)
        )
        return post_connection(page)

    @strawberry.field(description="Published posts with the most likes, ties newest first.")
    async def popular_posts(self, info: Info[Context, None], first: int | None = 10) -> list[Post]:
        views = await info.context.reads.popular_posts(page_size(first, default=10))
        return [Post.from_view(view) for view in views]

    @strawberry.field(description="The post, user or comment with this id, or null.")
    async def node(self, info: Info[Context, None], id: strawberry.ID) -> Node | None:
        (found,) = await info.context.reads.nodes([id], info.context.viewer_id)
        return _node(found)

    @strawberry.field(description=f"node(id:) for up to {MAX_FIRST} ids at once, in their order.")
    async def nodes(self, info: Info[Context, None], ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_FIRST:
            raise BadInput(f"nodes takes at most {MAX_FIRST} ids", "ids")
        return [_node(view) for view in await info.context.reads.nodes(ids, info.context.viewer_id)]

    @strawberry.field
    async def projections(self, info: Info[Context, None]) -> list[ProjectionStatus]:
        statuses = await info.context.reads.projection_statuses()
        return [ProjectionStatus.from_view(status) for status in statuses]

    @strawberry.field(
        description=(
            "The newest events of the log the viewer may see, newest first, from the "
            "recent-events projection (it keeps the newest 100): a read model like the "
            "others, so it too may lag the log. A post's events, its likes' and comments' "
            "included, are shown to its author, and to others only from its publication "
            "on and while it is published: drafts and archived posts are their author's "
            "alone, here as in post(id)."
        )
    )
    async def recent_events(
        self, info: Info[Context, None], first: int | None = 20
    ) -> list[RecentEvent]:
        views = await info.context.reads.recent_events(page_size(first), info.context.viewer_id)
        return [RecentEvent.from_view(view) for view in views]


def _node(view: PostView | UserView | CommentView | None) -> Node | None:
    match view:
        case PostView():
            return Post.from_view(view)
        case UserView():
            return User.from_view(view)
        case CommentView():
            return Comment.from_view(view)
    return None
