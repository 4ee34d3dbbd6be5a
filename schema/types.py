"""The GraphQL object types of the contract, built from the readers' views."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

import strawberry
from graphql import NullValueNode, VariableNode
from strawberry.types import Info

from projections.readers.pagination import Count, Slice, one_direction
from projections.readers.read_models import CommentPage, PostPage
from projections.readers.views import (
    CommentView,
    PostView,
    ProjectionStatusView,
    RecentEventView,
    UserView,
)
from schema.context import Context

DEFAULT_PAGE = 20
V = TypeVar("V")  # a read model's view, made into a GraphQL object by its type


def page_size(first: int | None, default: int = DEFAULT_PAGE) -> int:
    """The contract's `first: Int = 20` is nullable; an explicit null means the default."""
    return default if first is None else first


@strawberry.enum
class PostStatus(enum.Enum):
    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    ARCHIVED = "ARCHIVED"


@strawberry.type
class Author:
    id: strawberry.ID
    name: str
    avatar_url: str | None

    @staticmethod
    def of(view: PostView | CommentView) -> Author:
        """The author as the read model copied them in: their name now, not at writing."""
        return Author(
            id=strawberry.ID(view.author_id),
            name=view.author_name,
            avatar_url=view.author_avatar_url,
        )


@strawberry.interface(
    description=(
        "An object with an id unique across every type (a UUID the server made), "
        "refetchable with node(id:)."
    )
)
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None
    has_previous_page: bool
    start_cursor: str | None


N = TypeVar("N")


@strawberry.type
class Edge(Generic[N]):
    cursor: str
    node: N


@strawberry.type
class Connection(Generic[N]):
    """Relay's connection: strawberry names Connection[Post] PostConnection (and its
    edges PostEdge), as the contract does."""

    edges: list[Edge[N]]
    page_info: PageInfo
    total: strawberry.Private[int | Count]

    @strawberry.field
    async def total_count(self) -> int:
        """Counted only when asked for where counting costs (a search's, pagination.Page)."""
        return self.total if isinstance(self.total, int) else await self.total()

    @staticmethod
    def of(
        rows: Sequence[tuple[str, V]], make: Callable[[V], N], page: PostPage | CommentPage
    ) -> Connection[N]:
        edges = [Edge(cursor=cursor, node=make(view)) for cursor, view in rows]
        return Connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next,
                end_cursor=edges[-1].cursor if edges else None,
                has_previous_page=page.has_previous,
                start_cursor=edges[0].cursor if edges else None,
            ),
            total=page.total,
        )


def window(
    info: Info[Context, None],
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> Slice:
    one_direction(first if _given(info, "first") else None, last)
    return Slice(page_size(first), after, last, before)


def _given(info: Info[Context, None], argument: str) -> bool:
    """Whether the client gave the argument a value, rather than the contract's default
    (an unset variable takes it too)."""
    for node in info._raw_info.field_nodes[0].arguments or ():
        if node.name.value == argument:
            if isinstance(node.value, VariableNode):
                return info.variable_values.get(node.value.name.value) is not None
            return not isinstance(node.value, NullValueNode)
    return False


LAST = strawberry.argument(description="Pages backward: the last items before `before`.")


@strawberry.type
class Comment(Node):
    post_id: strawberry.ID
    author: Author
    body: str
    created_at: datetime
    position: int | None = strawberry.field(
        description=(
            "The log position of the event that added this comment: what "
            "`commentAdded(after:)` resumes from. Null for a comment written into the read "
            "model before Inkwell recorded it (rebuild to fill it in)."
        )
    )

    @staticmethod
    def from_view(view: CommentView) -> Comment:
        return Comment(
            id=strawberry.ID(view.id),
            post_id=strawberry.ID(view.post_id),
            author=Author.of(view),
            body=view.body,
            created_at=view.created_at,
            position=view.position,
        )


@strawberry.type
class Post(Node):
    version: int = strawberry.field(
        description="Version of the post's event stream; send it back as expectedVersion."
    )
    title: str
    content: str
    tags: list[str]
    status: PostStatus
    author: Author = strawberry.field(
        description="Denormalized: the author's current name and avatar."
    )
    comment_count: int
    like_count: int
    top_comments: list[Comment] = strawberry.field(
        description="The 3 newest comments, newest first, precomputed in the read model."
    )
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    read_model_position: int | None = strawberry.field(
        description=(
            "The log position this read model reflects: the newest event that changed it. "
            "Null for a read model written before Inkwell recorded it (rebuild to fill it in)."
        )
    )
    # An archived post told to someone it is hidden from: it lists no comments.
    withheld: strawberry.Private[bool] = False

    @strawberry.field(description="False when there is no authenticated viewer.")
    async def liked_by_viewer(self, info: Info[Context, None]) -> bool:
        liked, position = await info.context.liked_by_viewer.load(self.id)
        if position is not None and position != self.read_model_position:
            info.context.torn_reads += 1  # a like of a later post than its likeCount's
        return liked

    @strawberry.field(description="Oldest first.")
    async def comments(
        self,
        info: Info[Context, None],
        first: int | None = 20,
        after: str | None = None,
        last: Annotated[int | None, LAST] = None,
        before: str | None = None,
    ) -> Connection[Comment]:
        page_window = window(info, first, after, last, before)
        if self.withheld:
            page_window.check()  # bad input is refused as for any post
            return Connection.of([], Comment.from_view, CommentPage([], has_next=False, total=0))
        page = await info.context.comment_pages.load((self.id, page_window))
        if page.post_position != self.read_model_position:
            # A write to the post landed between its read and this page's: its
            # commentCount and topComments may not be this page's.
            info.context.torn_reads += 1
        return Connection.of(page.comments, Comment.from_view, page)

    @staticmethod
    def from_view(view: PostView) -> Post:
        return Post(
            id=strawberry.ID(view.id),
            version=view.version,
            title=view.title,
            content=view.content,
            tags=list(view.tags),
            status=PostStatus(view.status),
            author=Author.of(view),
            comment_count=view.comment_count,
            like_count=view.like_count,
            top_comments=[Comment.from_view(comment) for comment in view.top_comments],
            created_at=view.created_at,
            updated_at=view.updated_at,
            published_at=view.published_at,
            read_model_position=view.read_model_position,
        )

    @staticmethod
    def withheld_from(view: PostView) -> Post:
        """An archived post as the feed tells its archiving to anyone but its author, so a
        live list can drop it: its id, status, version, author, dates and position, none
        of what its author took back (title and content empty, no tags, no comments,
        counts 0)."""
        empty = dataclasses.replace(
            view, title="", content="", tags=(), comment_count=0, like_count=0, top_comments=()
        )
        return dataclasses.replace(Post.from_view(empty), withheld=True)


def post_connection(page: PostPage) -> Connection[Post]:
    return Connection.of(page.posts, Post.from_view, page)


@strawberry.type
class User(Node):
    name: str
    avatar_url: str | None
    bio: str
    joined_at: datetime
    published_post_count: int

    @staticmethod
    def from_view(view: UserView) -> User:
        return User(
            id=strawberry.ID(view.id),
            name=view.name,
            avatar_url=view.avatar_url,
            bio=view.bio,
            joined_at=view.joined_at,
            published_post_count=view.published_post_count,
        )

    @strawberry.field(
        description="The user's published posts, newest first (the user themself also sees drafts)."
    )
    async def posts(
        self,
        info: Info[Context, None],
        first: int | None = 20,
        after: str | None = None,
        last: Annotated[int | None, LAST] = None,
        before: str | None = None,
    ) -> Connection[Post]:
        ctx = info.context
        page_window = window(info, first, after, last, before)
        page = await ctx.nested(
            lambda: ctx.reads.posts_by_author(self.id, ctx.viewer_id, page_window)
        )
        return post_connection(page)


@strawberry.type
class ProjectionStatus:
    name: str
    position: int = strawberry.field(description="Last global position this projection applied.")
    head_position: int = strawberry.field(description="Last global position in the event store.")
    lag: int
    parked: int = strawberry.field(
        description="Events set aside because they could not be applied: the stream of each, "
        "and its later events, wait until an operator retries or skips them "
        "(the `parked list` command)."
    )
    parked_streams: int = strawberry.field(
        description="Streams with parked events; the projection's other streams keep flowing."
    )
    lag_milliseconds: int | None = strawberry.field(
        description=(
            "How long the oldest event this projection has not applied has been in the log; "
            "0 when caught up; null when unknown: older than the 10,000 newest commits, "
            "or Redis lost their times."
        )
    )

    @staticmethod
    def from_view(view: ProjectionStatusView) -> ProjectionStatus:
        return ProjectionStatus(
            name=view.name,
            position=view.position,
            head_position=view.head_position,
            lag=view.lag,
            parked=view.parked,
            parked_streams=view.parked_streams,
            lag_milliseconds=view.lag_milliseconds(datetime.now(UTC)),
        )


@strawberry.type(description="An event of the log, as the recent-events projection lists it.")
class RecentEvent:
    position: int
    type: str = strawberry.field(description="The event's type, e.g. PostPublished.")
    stream_id: str = strawberry.field(
        description=(
            "e.g. post-<id>, user-<id>. A like's, like-<postId>-<userId>, shows its user "
            "to that user alone: others see like-<postId>."
        )
    )
    version: int = strawberry.field(description="The event's version in its stream.")
    recorded_at: datetime = strawberry.field(description="When its transaction committed.")

    @staticmethod
    def from_view(view: RecentEventView) -> RecentEvent:
        return RecentEvent(
            position=view.position,
            type=view.type,
            stream_id=view.stream_id,
            version=view.version,
            recorded_at=view.recorded_at,
        )
