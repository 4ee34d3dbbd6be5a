"""Commands: what a user asks the blog to do. Imperative names; frozen data, not yet checked."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """Base of every command. One that names no `expected_version` is retried on conflict."""


@dataclass(frozen=True)
class RegisterUser(Command):
    name: str
    avatar_url: str | None = None
    bio: str = ""


@dataclass(frozen=True)
class UpdateProfile(Command):
    """None leaves a field as it is; an empty avatar_url clears the avatar."""

    name: str | None = None
    avatar_url: str | None = None
    bio: str | None = None


@dataclass(frozen=True)
class CreatePost(Command):
    title: str
    content: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class UpdatePost(Command):
    post_id: str
    expected_version: int
    title: str | None = None
    content: str | None = None
    tags: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PublishPost(Command):
    post_id: str
    expected_version: int | None = None


@dataclass(frozen=True)
class ArchivePost(Command):
    post_id: str
    expected_version: int | None = None


@dataclass(frozen=True)
class LikePost(Command):
    post_id: str
    expected_version: int | None = None


@dataclass(frozen=True)
class UnlikePost(Command):
    post_id: str
    expected_version: int | None = None


@dataclass(frozen=True)
class AddComment(Command):
    post_id: str
    body: str


@dataclass(frozen=True)
class DeleteComment(Command):
    comment_id: str
