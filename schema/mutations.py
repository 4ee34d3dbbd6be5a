"""Mutation: each field turns its input into a command and dispatches it on the bus."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain.commands import (
    AddComment,
    ArchivePost,
    Command,
    CreatePost,
    DeleteComment,
    LikePost,
    PublishPost,
    RegisterUser,
    UnlikePost,
    UpdatePost,
    UpdateProfile,
)
from domain.ports import Outcome
from schema import ids
from schema.context import Context
from schema.inputs import (
    AddCommentInput,
    CreatePostInput,
    DeleteCommentInput,
    PostCommandInput,
    RegisterUserInput,
    UpdatePostInput,
    UpdateProfileInput,
)
from schema.payloads import (
    CommentPayload,
    PostPayload,
    RegisterUserPayload,
    UserPayload,
    refuse_hidden_post,
    selects_post,
)
from schema.write_costs import charge_profile_update, comment_text_charged, post_texts_charged


def command_key(info: Info[Context, None], command_id: str | None) -> str | None:
    """The input's commandId, checked (schema/ids.py) before anything else of the
    mutation runs: a refused one must not have spent a write budget first."""
    return ids.command_id(command_id, anonymous=info.context.viewer_id is None)


async def dispatch(info: Info[Context, None], command: Command, key: str | None) -> Outcome:
    """Sends the command under `key`, a commandId that `command_key` has checked."""
    ctx = info.context
    return await ctx.services.bus.dispatch(command, ctx.caller(key))


def _tags(tags: list[str] | None) -> tuple[str, ...] | None:
    return None if tags is None else tuple(tags)


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def register_user(
        self, info: Info[Context, None], input: RegisterUserInput
    ) -> RegisterUserPayload:
        key = command_key(info, input.command_id)
        command = RegisterUser(name=input.name, avatar_url=input.avatar_url, bio=input.bio or "")
        outcome = await dispatch(info, command, key)
        user_id = outcome.ids["user_id"]
        return RegisterUserPayload(
            token=info.context.services.tokens.issue(user_id),
            position=str(outcome.position),
            user_id=strawberry.ID(user_id),
        )

    @strawberry.mutation
    async def update_profile(
        self, info: Info[Context, None], input: UpdateProfileInput
    ) -> UserPayload:
        key = command_key(info, input.command_id)
        await charge_profile_update(info.context)
        command = UpdateProfile(name=input.name, avatar_url=input.avatar_url, bio=input.bio)
        outcome = await dispatch(info, command, key)
        return UserPayload(
            position=str(outcome.position), user_id=strawberry.ID(outcome.ids["user_id"])
        )

    @strawberry.mutation
    async def create_post(self, info: Info[Context, None], input: CreatePostInput) -> PostPayload:
        key = command_key(info, input.command_id)
        command = CreatePost(title=input.title, content=input.content, tags=_tags(input.tags) or ())
        async with post_texts_charged(info.context, input.title, input.content, input.tags):
            outcome = await dispatch(info, command, key)
        return _post_payload(outcome)

    @strawberry.mutation
    async def update_post(self, info: Info[Context, None], input: UpdatePostInput) -> PostPayload:
        key = command_key(info, input.command_id)
        command = UpdatePost(
            post_id=ids.entity_id(input.post_id, "postId"),
            expected_version=input.expected_version,
            title=input.title,
            content=input.content,
            tags=_tags(input.tags),
        )
        async with post_texts_charged(info.context, input.title, input.content, input.tags):
            outcome = await dispatch(info, command, key)
        return _post_payload(outcome)

    @strawberry.mutation
    async def publish_post(self, info: Info[Context, None], input: PostCommandInput) -> PostPayload:
        return await _on_post(info, input, PublishPost)

    @strawberry.mutation
    async def archive_post(self, info: Info[Context, None], input: PostCommandInput) -> PostPayload:
        return await _on_post(info, input, ArchivePost)

    @strawberry.mutation
    async def like_post(self, info: Info[Context, None], input: PostCommandInput) -> PostPayload:
        return await _on_post(info, input, LikePost)

    @strawberry.mutation
    async def unlike_post(self, info: Info[Context, None], input: PostCommandInput) -> PostPayload:
        return await _on_post(info, input, UnlikePost)

    @strawberry.mutation
    async def add_comment(
        self, info: Info[Context, None], input: AddCommentInput
    ) -> CommentPayload:
        key = command_key(info, input.command_id)
        command = AddComment(post_id=ids.entity_id(input.post_id, "postId"), body=input.body)
        async with comment_text_charged(info.context, input.body):
            outcome = await dispatch(info, command, key)
        return CommentPayload(
            position=str(outcome.position),
            comment_id=strawberry.ID(outcome.ids["comment_id"]),
            post_id=strawberry.ID(outcome.ids["post_id"]),
        )

    @strawberry.mutation(description="Allowed to the comment's author and to the post's author.")
    async def delete_comment(
        self, info: Info[Context, None], input: DeleteCommentInput
    ) -> PostPayload:
        key = command_key(info, input.command_id)
        command = DeleteComment(comment_id=ids.entity_id(input.comment_id, "commentId"))
        if selects_post(info):
            await refuse_hidden_post(info, await info.context.reads.comment(command.comment_id))
        outcome = await dispatch(info, command, key)
        return PostPayload(
            position=str(outcome.position),
            post_id=strawberry.ID(outcome.ids["post_id"]),
            deleted_comment_id=strawberry.ID(outcome.ids["comment_id"]),
        )


# The commands that name a post and nothing else (PostCommandInput).
OnPost = type[PublishPost] | type[ArchivePost] | type[LikePost] | type[UnlikePost]


async def _on_post(
    info: Info[Context, None], input: PostCommandInput, command: OnPost
) -> PostPayload:
    key = command_key(info, input.command_id)
    post_id = ids.entity_id(input.post_id, "postId")
    made = command(post_id=post_id, expected_version=input.expected_version)
    return _post_payload(await dispatch(info, made, key))


def _post_payload(outcome: Outcome) -> PostPayload:
    return PostPayload(
        position=str(outcome.position), post_id=strawberry.ID(outcome.ids["post_id"])
    )
