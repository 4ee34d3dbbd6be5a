"""A post's and a comment's hash carry a copy of their author's name and avatar, as the
author stood when it was written (lua/hset_with_author.lua), and follow later renames."""

from __future__ import annotations

from domain.commands import AddComment, CreatePost, PublishPost, RegisterUser, UpdateProfile
from infra.settings import Settings
from tests.support.in_process import send, settle
from wiring.bootstrap import running

AVATAR = "https://a.example/ann.png"


async def test_a_new_hash_takes_its_authors_name_and_avatar_and_only_those_it_has(
    settings: Settings,
) -> None:
    async with running(settings) as app:
        ann = (await send(app, RegisterUser("Ann", avatar_url=AVATAR)))["user_id"]
        post = (await send(app, CreatePost("Title", "Text."), ann))["post_id"]
        await send(app, PublishPost(post), ann)
        with_avatar = (await send(app, AddComment(post, "First"), ann))["comment_id"]
        await send(app, UpdateProfile(name="Ann B", avatar_url=""), ann)
        without = (await send(app, AddComment(post, "Second"), ann))["comment_id"]
        await settle(app)

        first = await app.redis.hgetall(app.keys.comment(with_avatar))
        second = await app.redis.hgetall(app.keys.comment(without))
        written = await app.redis.hgetall(app.keys.post(post))

    assert first["body"] == "First" and first["postId"] == post and first["authorId"] == ann
    # The rename reached the comment written before it, the avatar's removal too.
    assert first["authorName"] == "Ann B" and "authorAvatarUrl" not in first
    assert second["body"] == "Second" and second["authorName"] == "Ann B"
    assert "authorAvatarUrl" not in second
    assert written["title"] == "Title" and written["authorName"] == "Ann B"
    assert "authorAvatarUrl" not in written


async def test_a_hash_written_while_the_author_has_an_avatar_carries_it(
    settings: Settings,
) -> None:
    async with running(settings) as app:
        ann = (await send(app, RegisterUser("Ann")))["user_id"]
        await send(app, UpdateProfile(avatar_url=AVATAR), ann)
        post = (await send(app, CreatePost("Title", "Text."), ann))["post_id"]
        await send(app, PublishPost(post), ann)
        comment = (await send(app, AddComment(post, "Hello"), ann))["comment_id"]
        await settle(app)

        written = await app.redis.hgetall(app.keys.post(post))
        said = await app.redis.hgetall(app.keys.comment(comment))

    for fields in (written, said):
        assert fields["authorName"] == "Ann" and fields["authorAvatarUrl"] == AVATAR
    assert written["content"] == "Text." and written["commentCount"] == "1"
    assert said["body"] == "Hello" and said["position"].isdigit()
