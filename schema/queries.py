"""Query: every field resolves from the Redis read models, never from SQL."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from schema.context import Context
from schema.types import Post, PostConnection, ProjectionStatus, User, page_size


@strawberry.type
class Query:
    @strawberry.field(
        description=(
            "Drafts and archived posts are visible to their author only; null for everyone else."
        )
    )
    async def post(self, info: Info[Context, None], id: strawberry.ID) -> Post | None:
        view = await info.context.reads.post(id, info.context.viewer_id)
        return Post.from_view(view) if view else None

    @strawberry.field
    async def user(self, info: Info[Context, None], id: strawberry.ID) -> User | None:
        view = await info.context.reads.user(id)
        return User.from_view(view) if view else None

    @strawberry.field(description="The authenticated user, or null.")
    async def viewer(self, info: Info[Context, None]) -> User | None:
        viewer_id = info.context.viewer_id
        view = await info.context.reads.user(viewer_id) if viewer_id else None
        return User.from_view(view) if view else None

    @strawberry.field(description="Published posts, newest publishedAt first.")
    async def recent_posts(
        self, info: Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> PostConnection:
        return PostConnection.from_page(
            await info.context.reads.recent_posts(page_size(first), after)
        )

    @strawberry.field(description="Published posts of one author, newest first.")
    async def posts_by_author(
        self,
        info: Info[Context, None],
        author_id: strawberry.ID,
        first: int | None = 20,
        after: str | None = None,
    ) -> PostConnection:
        # The public list, even for the author: their drafts show only under User.posts.
        page = await info.context.reads.posts_by_author(author_id, None, page_size(first), after)
        return PostConnection.from_page(page)

    @strawberry.field(description="Published posts carrying the tag, newest first.")
    async def posts_by_tag(
        self, info: Info[Context, None], tag: str, first: int | None = 20, after: str | None = None
    ) -> PostConnection:
        page = await info.context.reads.posts_by_tag(tag, page_size(first), after)
        return PostConnection.from_page(page)

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
    ) -> PostConnection:
        page = await info.context.reads.search_posts(query, page_size(first), after)
        return PostConnection.from_page(page)

    @strawberry.field(description="Published posts with the most likes, ties newest first.")
    async def popular_posts(self, info: Info[Context, None], first: int | None = 10) -> list[Post]:
        views = await info.context.reads.popular_posts(page_size(first, default=10))
        return [Post.from_view(view) for view in views]

    @strawberry.field
    async def projections(self, info: Info[Context, None]) -> list[ProjectionStatus]:
        statuses = await info.context.reads.projection_statuses()
        return [ProjectionStatus.from_view(status) for status in statuses]
