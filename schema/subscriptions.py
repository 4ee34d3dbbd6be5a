"""Subscription: read models as they change. Every item is read from Redis after the
projector applied the change, never built from the raw event."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from domain.errors import NotFound
from schema import ids
from schema.context import Context
from schema.types import Comment, Post, ProjectionStatus


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description=(
            "The post's read model now, then after every change "
            "(edit, publish, like, comment, author rename)."
        )
    )
    async def post(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> AsyncGenerator[Post, None]:
        """A post its viewer may not see (a draft of someone else's) is NOT_FOUND; a post
        that leaves the viewer's sight (archived) ends the stream."""
        ctx = info.context
        id = strawberry.ID(ids.entity_id(id, "id"))
        with ctx.services.subscription():
            async with ctx.services.live.post(id) as updates:
                first = True
                async for view in updates:
                    if view is None or not view.visible_to(ctx.viewer_id):
                        if first:
                            raise NotFound("post", id)
                        return
                    first = False
                    yield Post.from_view(view)

    @strawberry.subscription(
        description="Each post as it is published, and each later change of a published post."
    )
    async def feed(self, info: Info[Context, None]) -> AsyncGenerator[Post, None]:
        services = info.context.services
        with services.subscription():
            async with services.live.feed() as updates:
                async for view in updates:
                    yield Post.from_view(view)

    @strawberry.subscription(
        description="Comments added to one post, as they land in the read model."
    )
    async def comment_added(
        self, info: Info[Context, None], post_id: strawberry.ID
    ) -> AsyncGenerator[Comment, None]:
        ctx = info.context
        post_id = strawberry.ID(ids.entity_id(post_id, "postId"))
        post = await ctx.services.live.post_now(post_id)
        if post is None or not post.visible_to(ctx.viewer_id):
            raise NotFound("post", post_id)
        with ctx.services.subscription():
            async with ctx.services.live.comments_added(post_id) as updates:
                async for view in updates:
                    yield Comment.from_view(view)

    @strawberry.subscription(description="Projection progress, now and after every change.")
    async def projections(
        self, info: Info[Context, None]
    ) -> AsyncGenerator[list[ProjectionStatus], None]:
        services = info.context.services
        with services.subscription():
            async with services.live.projections() as updates:
                async for statuses in updates:
                    yield [ProjectionStatus.from_view(status) for status in statuses]
