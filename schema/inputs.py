"""Mutation inputs, exactly as the contract names them."""

from __future__ import annotations

import strawberry


@strawberry.input
class RegisterUserInput:
    name: str
    avatar_url: str | None = None
    bio: str | None = None
    command_id: strawberry.ID | None = None


@strawberry.input
class UpdateProfileInput:
    name: str | None = None
    avatar_url: str | None = strawberry.field(
        default=None, description="An empty string removes the avatar."
    )
    bio: str | None = None
    command_id: strawberry.ID | None = None


@strawberry.input
class CreatePostInput:
    title: str
    content: str
    tags: list[str] | None = None
    command_id: strawberry.ID | None = None


@strawberry.input
class UpdatePostInput:
    post_id: strawberry.ID
    expected_version: int
    title: str | None = None
    content: str | None = None
    tags: list[str] | None = None
    command_id: strawberry.ID | None = None


@strawberry.input
class PostCommandInput:
    post_id: strawberry.ID
    expected_version: int | None = strawberry.field(
        default=None, description="Optional optimistic-concurrency guard."
    )
    command_id: strawberry.ID | None = None


@strawberry.input
class AddCommentInput:
    post_id: strawberry.ID
    body: str
    command_id: strawberry.ID | None = None


@strawberry.input
class DeleteCommentInput:
    comment_id: strawberry.ID
    command_id: strawberry.ID | None = None
