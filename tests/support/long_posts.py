"""A server holding posts long enough that one page of them is a 10 MB answer, for the
tests of what the server holds for clients that do not read."""

from __future__ import annotations

from harness.server_process import ServerProcess
from tests.support.api import http_api

POSTS = 100
PAGE = "{ recentPosts(first: 100) { edges { node { content } } } }"  # 10 MB of answer
# For a server with rate limits on: the writes that publish them (10 MB of text, at the
# default text budget's edge), and the pages the tests ask for many times a minute from
# one address (past the query-cost budget).
SEEDING_WRITES = {
    "INKWELL_RATE_LIMIT_WRITES": "1000/minute",
    "INKWELL_RATE_LIMIT_TEXT_BYTES": "100000000/hour",
    "INKWELL_RATE_LIMIT_QUERY_COST": "10000000/minute",
}


def publish_long_posts(server: ServerProcess) -> None:
    """POSTS posts of 100,000 characters, one author's."""
    api = http_api(server)
    ann = api.register("Ann")
    for n in range(POSTS):
        api.published_post(ann, f"Long {n}", content="x" * 100_000)
