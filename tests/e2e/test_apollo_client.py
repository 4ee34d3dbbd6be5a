"""Apollo Client from Node against a real server: a feed paged with fetchMore and merged by
relayStylePagination over persisted queries, a mutation, and a graphql-ws subscription
whose items update the cache."""

from __future__ import annotations

from harness.server_process import ServerProcess
from tests.support.api import http_api
from tests.support.node import NodeScript, install_locked_packages, needs_node

pytestmark = needs_node


def test_apollo_client_pages_mutates_and_follows_a_post(server: ServerProcess) -> None:
    install_locked_packages()
    api = http_api(server)
    ann = api.register("Ann")
    titles = [f"Post {n}" for n in range(5)]
    for title in titles:
        api.published_post(ann, title)
    reader = api.register("Reader")
    with NodeScript("apollo-client.mjs", f"{server.url}/graphql", reader.token) as lines:
        newest = list(reversed(titles))

        first = lines.next_json()
        assert first["titles"] == newest[:2]
        assert first["pageInfo"]["hasNextPage"] is True
        assert first["pageInfo"]["hasPreviousPage"] is False

        merged = lines.next_json()
        assert merged["step"] == "merged"
        assert merged["titles"] == newest[:4]  # fetchMore's page appended by the type policy
        assert merged["pageInfo"]["hasNextPage"] is True

        # The first page: its hash alone (GET, refused as unknown), then the document (POST).
        # fetchMore sends the same document, by hash alone over GET, and is answered.
        requests = lines.next_json()["requests"]
        assert [(r["method"], r["withQuery"], r["status"]) for r in requests] == [
            ("GET", False, 400),
            ("POST", True, 200),
            ("GET", False, 200),
        ]
        for request in requests:
            assert request["contentType"].startswith("application/graphql-response+json")

        liked = lines.next_json()
        assert liked["step"] == "liked"
        assert int(liked["position"]) > 0

        cache = lines.next_json()
        assert cache["step"] == "cache"
        assert cache["items"][0] == 0 and cache["items"][-1] == 1
        assert cache["likeCount"] == 1  # the cached feed entry, updated by the subscription
        assert cache["cachedPosts"] == 4
        assert lines.exit_code() == 0


def test_apollo_client_drops_a_deleted_comment_from_its_cache(server: ServerProcess) -> None:
    """docs/clients.md's update function, keyed on deleteComment's `deletedCommentId`:
    without it, the comment stayed in the cached post's `comments`, totalCount stale. The
    page's totalCount is the post's commentCount (an outside probe: decremented, it went
    to -1 after a comment added since the page was read was deleted)."""
    install_locked_packages()
    api = http_api(server)
    ann = api.register("Ann")
    post = api.published_post(ann)
    kept, gone = (api.comment(ann, post["id"], body)["commentId"] for body in ("Kept", "Gone"))
    with NodeScript(
        "apollo-delete-comment.mjs", f"{server.url}/graphql", ann.token, post["id"], gone
    ) as lines:
        cache = lines.next_json()
        assert lines.exit_code() == 0
    assert cache["before"]["comments"] == [kept, gone]
    assert (cache["before"]["totalCount"], cache["before"]["commentCount"]) == (2, 2)
    # The script added "Late" after reading the page: the count follows the post's (a
    # decremented page count said 1, and -1 on a post whose page was read empty).
    assert cache["after"]["commentCount"] == 2  # from the payload's post
    assert cache["after"]["totalCount"] == 2
    assert cache["after"]["comments"] == [kept]
    assert gone not in cache["after"]["topComments"] and kept in cache["after"]["topComments"]
    assert f"Comment:{gone}" not in cache["cachedComments"]
