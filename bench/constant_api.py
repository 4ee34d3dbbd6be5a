"""The ceiling for the HTTP benchmark: the same GraphQL types as Inkwell, served from
constants by stock strawberry on Starlette and uvicorn (uvloop), with strawberry's
parser and validation caches. What it costs is what the stack itself costs; Inkwell
can only add to it (Redis reads, auth, request logs, metrics, commands).

Run: `python -m bench.constant_api PORT` (bench.http_throughput starts it).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import strawberry
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache

from projections.readers.read_models import PostPage
from projections.readers.views import CommentView, PostView
from schema.inputs import CreatePostInput
from schema.payloads import PostPayload
from schema.types import Connection, Post, post_connection

TITLE = "A post of the benchmark"
CONTENT = "Text of the benchmark's posts, about as long as a short paragraph. " * 3
COMMENT = "A comment of the benchmark."
WHEN = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def comment_view(number: int, post_id: str) -> CommentView:
    return CommentView(
        id=f"c{number:035d}", post_id=post_id, author_id="u" * 36,
        author_name="Reader", author_avatar_url=None, body=COMMENT, created_at=WHEN,
    )  # fmt: skip


def post_view(number: int) -> PostView:
    post_id = f"p{number:035d}"
    return PostView(
        id=post_id, version=7, author_id="a" * 36, author_name="Author",
        author_avatar_url=None, title=TITLE, content=CONTENT, tags=("bench",),
        status="PUBLISHED", comment_count=5, like_count=3,
        top_comments=tuple(comment_view(n, post_id) for n in range(3)),
        created_at=WHEN, updated_at=WHEN, published_at=WHEN,
    )  # fmt: skip


POST = Post.from_view(post_view(0))
PAGE = post_connection(
    PostPage(posts=[(f"cursor{n}", post_view(n)) for n in range(20)], has_next=True, total=30)
)


@strawberry.type
class Query:
    @strawberry.field
    def post(self, id: strawberry.ID) -> Post | None:
        return POST

    @strawberry.field
    def recent_posts(self, first: int | None = 20, after: str | None = None) -> Connection[Post]:
        return PAGE


@strawberry.type
class Mutation:
    @strawberry.mutation
    def create_post(self, input: CreatePostInput) -> PostPayload:
        return PostPayload(position="1", post_id=strawberry.ID(POST.id))


def app() -> Starlette:
    schema = strawberry.Schema(
        query=Query, mutation=Mutation, extensions=[ParserCache, ValidationCache]
    )
    return Starlette(routes=[Route("/graphql", GraphQL(schema))])


if __name__ == "__main__":
    uvicorn.run(app(), host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop",
                http="httptools", log_level="warning", access_log=False)  # fmt: skip
