"""Subscription: read models as they change. Every item is read from Redis after the
projector applied the change, never built from the raw event."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any, TypeVar

import strawberry
from graphql import FieldNode, located_error
from strawberry.extensions import FieldExtension
from strawberry.extensions.field_extension import AsyncExtensionResolver
from strawberry.types import Info
from strawberry.utils.await_maybe import await_maybe

from domain.errors import NotFound
from schema import ids
from schema.context import Context
from schema.types import Comment, Post, ProjectionStatus

T = TypeVar("T")


class FieldErrors(FieldExtension):
    """A subscription's errors carry the field's `path` and `locations`, as the same
    error does over HTTP. The resolvers refuse (a malformed id, a post the viewer may not
    see) while their stream is iterated, and graphql-core passed what a source stream
    raises on bare: the client got neither, where graphql-js locates an error raised
    while the stream is set up and the spec says a field error has a path."""

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: Info, **kwargs: Any
    ) -> AsyncGenerator[Any, None]:
        items: AsyncGenerator[Any, None] = await await_maybe(next_(source, info, **kwargs))
        return _located(items, info._raw_info.field_nodes, info.path.as_list())


async def _located(
    items: AsyncGenerator[T, None], nodes: list[FieldNode], path: list[str | int]
) -> AsyncGenerator[T, None]:
    """`items`, closed with this stream; what they raise, raised at the field."""
    async with aclosing(items):
        try:
            async for item in items:
                yield item
        except Exception as error:
            raise located_error(error, nodes, path) from error


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description=(
            "The post's read model now, then after every change "
            "(edit, publish, like, comment, author rename)."
        ),
        extensions=[FieldErrors()],
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
        description="Each post as it is published, and each later change of a published post.",
        extensions=[FieldErrors()],
    )
    async def feed(self, info: Info[Context, None]) -> AsyncGenerator[Post, None]:
        services = info.context.services
        with services.subscription():
            async with services.live.feed() as updates:
                async for view in updates:
                    yield Post.from_view(view)

    @strawberry.subscription(
        description="Comments added to one post, as they land in the read model.",
        extensions=[FieldErrors()],
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

    @strawberry.subscription(
        description="Projection progress, now and after every change.", extensions=[FieldErrors()]
    )
    async def projections(
        self, info: Info[Context, None]
    ) -> AsyncGenerator[list[ProjectionStatus], None]:
        services = info.context.services
        with services.subscription():
            async with services.live.projections() as updates:
                async for statuses in updates:
                    yield [ProjectionStatus.from_view(status) for status in statuses]
