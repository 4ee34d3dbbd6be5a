"""Subscription: read models as they change. Every item is read from Redis after the
projector applied the change, never built from the raw event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing, asynccontextmanager
from typing import Annotated, Any, TypeVar
from weakref import WeakValueDictionary

import strawberry
from graphql import FieldNode, located_error
from strawberry.extensions import FieldExtension
from strawberry.extensions.field_extension import AsyncExtensionResolver
from strawberry.types import Info
from strawberry.utils.await_maybe import await_maybe

from domain.errors import InvalidInput, NotFound
from projections.live.read_models import MAX_CHANGES, Held, Resume
from projections.readers.views import CommentView, PostView
from protection.addresses import client_of
from protection.cost_budget import charge, give_back
from schema import ids
from schema.consistency import subscribed_consistently
from schema.context import Context
from schema.limits.cost import QueryCosts
from schema.page_checks import bad_page_in
from schema.types import Comment, Post, ProjectionStatus

T = TypeVar("T")


class FieldErrors(FieldExtension):
    """A subscription's errors carry the field's `path` and `locations`, as the same
    error does over HTTP. The resolvers refuse (a malformed id, a post the viewer may not
    see) while their stream is iterated, and graphql-core passed what a source stream
    raises on bare: the client got neither, where graphql-js locates an error raised
    while the stream is set up and the spec says a field error has a path.

    A page size or cursor of the selection that its resolvers would refuse is refused
    here, before the first item (schema/page_checks.py)."""

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: Info, **kwargs: Any
    ) -> AsyncGenerator[Any, None]:
        raw = info._raw_info
        # A page its selection asks for that every item would refuse: refused once, here.
        # graphql-core 3.3 types these as VariableValues, yet sets up a subscription's
        # stream with the plain dict of them, coerced and defaulted.
        given: Any = raw.variable_values
        variables: Mapping[str, Any] = getattr(given, "coerced", given)
        bad_page = bad_page_in(raw.operation, raw.fragments, variables)
        items: AsyncGenerator[Any, None] = (
            _refusing(bad_page)
            if bad_page is not None
            else await await_maybe(next_(source, info, **kwargs))
        )
        return _located(items, raw.field_nodes, info.path.as_list())


async def _refusing(error: Exception) -> AsyncGenerator[Any, None]:
    """A stream that fails on its first read, as the resolvers' own refusals do."""
    raise error
    yield  # an async generator, as the resolvers' streams are


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


FEED_AFTER = strawberry.argument(
    description=(
        "Resumes after a reconnect: first each post that changed after this log position "
        "(the largest `readModelPosition` received), as it is now, oldest change first "
        "(an archived post only if it was published by then, and to anyone but its author "
        "without its title, content and comments); then the live stream, with nothing "
        "missed or repeated in between. More changes than can be replayed end the stream "
        "with RESUBSCRIBE."
    )
)
COMMENTS_AFTER = strawberry.argument(
    description=(
        "Resumes after a reconnect: first each comment added after this log position (the "
        "largest `position` received) and still there, oldest first; then the live stream. "
        "More than can be replayed ends the stream with RESUBSCRIBE."
    )
)


async def _while_visible(
    comments: AsyncIterator[CommentView],
    post: AsyncIterator[PostView | None],
    viewer_id: str | None,
) -> AsyncGenerator[CommentView, None]:
    """The comments, until their post leaves the viewer's sight (archived), when the
    stream ends as a new subscribe to the post's comments is answered (NOT_FOUND): a
    comments panel was left open on a post gone, holding its subscription budget."""
    gone = asyncio.ensure_future(_leaves_sight(post, viewer_id))
    comment: asyncio.Future[CommentView] | None = None
    try:
        while True:
            comment = asyncio.ensure_future(anext(comments))
            await asyncio.wait({comment, gone}, return_when=asyncio.FIRST_COMPLETED)
            if not comment.done():
                gone.result()  # the post's stream failed (RESUBSCRIBE): that, not gone
                return
            try:
                yield comment.result()
            except StopAsyncIteration:
                return
    finally:
        gone.cancel()
        if comment is not None:
            comment.cancel()


async def _leaves_sight(post: AsyncIterator[PostView | None], viewer_id: str | None) -> None:
    async for view in post:
        if view is None or not view.visible_to(viewer_id):
            return


def _resume(info: Info[Context, None], after: int | None) -> Resume | None:
    """Where a subscription given `after` picks up; None for one that starts from now.
    Its catch-up is bounded by the topics' own bound and by the cost limit: each item
    costs what the subscription costs per change, and all of them must fit a query's limit.
    It is charged that bound before it is read, as a query is charged its pages in full,
    and given back what it did not hold."""
    if after is None:
        return None
    if after < 0:
        raise InvalidInput("after", "a log position is 0 or more")
    limit, item_cost = MAX_CHANGES - 1, 1
    costs = getattr(info.schema, "costs", None)
    if isinstance(costs, QueryCosts):
        raw = info._raw_info
        item_cost = max(1, costs.item_cost(raw.operation, raw.fragments, info.variable_values))
        limit = min(limit, costs.limit.max_cost // item_cost)

    ctx = info.context

    @asynccontextmanager
    async def charge_catch_up(changes: int) -> AsyncIterator[Held]:
        async with catch_up_turn(client_of(ctx)):
            charged = await charge(ctx, changes * item_cost)
            held = Held()
            try:
                yield held
            finally:
                await give_back(ctx, charged, max(0, changes - held.changes) * item_cost)

    return Resume(
        after,
        limit,
        wait_seconds=ctx.services.consistency_timeout,
        # With rate limits off there is no budget to charge, and no turn to take.
        charge=charge_catch_up if ctx.services.throttle is not None else None,
    )


# Each catch-up is charged its bound while it is read: two resumed at once on one socket
# held two bounds together, and the second was refused for 105 s though both cost about
# 40 (a re-check probe), as a client reconnecting its subscriptions resumes them all at
# once. So an address's catch-ups are charged and read one at a time, in this process.
_CATCH_UP_TURNS: WeakValueDictionary[str, asyncio.Lock] = WeakValueDictionary()


def catch_up_turn(address: str) -> asyncio.Lock:
    turn = _CATCH_UP_TURNS.get(address)
    if turn is None:
        turn = _CATCH_UP_TURNS[address] = asyncio.Lock()
    return turn


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
        that leaves the viewer's sight (archived) ends the stream, after the post as the
        feed tells an archiving (`Post.withheld_from`): a bare `complete` could not be
        told from the server going away."""
        ctx = info.context
        id = strawberry.ID(ids.entity_id(id, "id"))
        await subscribed_consistently(ctx)
        with ctx.services.subscription():
            async with ctx.services.live.post(id) as updates:
                first = True
                async for view in updates:
                    if view is None or not view.visible_to(ctx.viewer_id):
                        if first:
                            raise NotFound("post", id)
                        if view is not None:
                            yield Post.withheld_from(view)
                        return
                    first = False
                    yield Post.from_view(view)

    @strawberry.subscription(
        description="Each post as it is published, and each later change of a published post.",
        extensions=[FieldErrors()],
    )
    async def feed(
        self, info: Info[Context, None], after: Annotated[int | None, FEED_AFTER] = None
    ) -> AsyncGenerator[Post, None]:
        """A post's archiving comes once, so that a list can drop it; to anyone but its
        author without its content (`Post.withheld_from`): an archived post is its
        author's alone."""
        ctx = info.context
        resume = _resume(info, after)
        with ctx.services.subscription():
            async with ctx.services.live.feed(resume) as updates:
                async for view in updates:
                    if view.visible_to(ctx.viewer_id):
                        yield Post.from_view(view)
                    else:
                        yield Post.withheld_from(view)

    @strawberry.subscription(
        description="Comments added to one post, as they land in the read model.",
        extensions=[FieldErrors()],
    )
    async def comment_added(
        self,
        info: Info[Context, None],
        post_id: strawberry.ID,
        after: Annotated[int | None, COMMENTS_AFTER] = None,
    ) -> AsyncGenerator[Comment, None]:
        ctx = info.context
        post_id = strawberry.ID(ids.entity_id(post_id, "postId"))
        resume = _resume(info, after)
        await subscribed_consistently(ctx)
        live = ctx.services.live
        with ctx.services.subscription():
            async with live.post(post_id) as post_updates:
                # The post's first state, as its topic reads it: while Redis holds no read
                # models (flushed, restarted empty) it waits for the rebuild. Read from its
                # hash at once, an existing post was NOT_FOUND, which tells a client it
                # was archived.
                first = await anext(post_updates)
                if first is None or not first.visible_to(ctx.viewer_id):
                    raise NotFound("post", post_id)
                async with live.comments_added(post_id, resume) as updates:
                    shown = _while_visible(updates, post_updates, ctx.viewer_id)
                    async with aclosing(shown):  # its tasks end with the subscription
                        async for view in shown:
                            yield Comment.from_view(view)
                raise NotFound("post", post_id)

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
