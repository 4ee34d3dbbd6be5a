"""Names of the event streams: one stream per aggregate instance.

A post's likes and comments are not in the post's stream. Each like (one per
post and user) and each comment is an aggregate of its own, so forty readers
liking or commenting on a popular post at once append to forty different
streams and never conflict; the post's own stream changes only when its author
edits, publishes or archives it. A like or comment still checks the post's
state, and its append is conditional on the post's version being unchanged, so
the check cannot go stale between the decision and the commit.
"""


def user(user_id: str) -> str:
    return f"user-{user_id}"


def post(post_id: str) -> str:
    return f"post-{post_id}"


def like(post_id: str, user_id: str) -> str:
    return f"like-{post_id}-{user_id}"


def comment(comment_id: str) -> str:
    return f"comment-{comment_id}"


UUID_LENGTH = 36  # every id the server makes (schema/ids.py)


def seen_by(stream_id: str, viewer_id: str | None) -> str:
    """The stream id as `viewer_id` may see it: a like's names its user, and who liked a
    post is that user's to know alone (the API shows a post's likeCount and the viewer's
    likedByViewer, never its likers), so anyone else sees `like-<post id>`."""
    kind, _, ids = stream_id.partition("-")
    if kind == "like" and len(ids) == 2 * UUID_LENGTH + 1 and ids[UUID_LENGTH + 1 :] != viewer_id:
        return f"like-{ids[:UUID_LENGTH]}"
    return stream_id


def described(stream_id: str) -> str:
    """The stream as a client knows what it holds: `post <id>` with the post's id as the
    API gives it, never the log's own name for it (`post-<id>`)."""
    kind, _, ids = stream_id.partition("-")
    if kind == "like" and len(ids) == 2 * UUID_LENGTH + 1:
        return f"the like of post {ids[:UUID_LENGTH]} by user {ids[UUID_LENGTH + 1 :]}"
    return f"{kind} {ids}"
