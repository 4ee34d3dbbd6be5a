"""Names of the event streams: one stream per aggregate instance."""


def user(user_id: str) -> str:
    return f"user-{user_id}"


def post(post_id: str) -> str:
    return f"post-{post_id}"
