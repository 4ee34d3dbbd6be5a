"""A third-party client from Node: the graphql-ws npm package follows a post on a real server."""

from __future__ import annotations

from harness.server_process import ServerProcess
from tests.support import operations as ops
from tests.support.api import http_api
from tests.support.node import NodeScript, install_locked_packages, needs_node

pytestmark = needs_node


def test_the_graphql_ws_client_receives_the_post_then_a_like_made_over_http(
    server: ServerProcess,
) -> None:
    install_locked_packages()
    api = http_api(server)
    ann = api.register("Ann")
    post = api.published_post(ann, "Followed from Node")
    bob = api.register("Bob")
    websocket_url = server.url.replace("http", "ws") + "/graphql"
    with NodeScript("subscribe-post.mjs", websocket_url, bob.token, post["id"], "2") as lines:
        assert lines.next_json() == {
            "data": {
                "post": {
                    "id": post["id"],
                    "title": "Followed from Node",
                    "likeCount": 0,
                    "likedByViewer": False,
                }
            }
        }

        api.ok(ops.LIKE_POST, {"input": {"postId": post["id"]}}, token=bob.token)

        # likedByViewer is true only if the token from connection_init identified Bob.
        assert lines.next_json() == {
            "data": {
                "post": {
                    "id": post["id"],
                    "title": "Followed from Node",
                    "likeCount": 1,
                    "likedByViewer": True,
                }
            }
        }
        assert lines.exit_code() == 0
