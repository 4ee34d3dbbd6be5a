"""A third-party client from Node: the graphql-ws npm package follows a post on a real server."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import http_api
from tests.support import operations as ops
from tests.support.node import LINE_SECONDS, NODE_DIR, Lines, install_locked_packages, needs_node
from tests.support.server_process import ServerProcess

SCRIPT = NODE_DIR / "subscribe-post.mjs"

pytestmark = needs_node


@pytest.fixture(scope="session")
def node_modules() -> Path:
    install_locked_packages()
    return NODE_DIR / "node_modules"


def test_the_graphql_ws_client_receives_the_post_then_a_like_made_over_http(
    server: ServerProcess, node_modules: Path
) -> None:
    api = http_api(server)
    ann = api.register("Ann")
    post = api.published_post(ann, "Followed from Node")
    bob = api.register("Bob")
    node = subprocess.Popen(
        [
            "node",
            str(SCRIPT),
            server.url.replace("http", "ws") + "/graphql",
            bob.token,
            post["id"],
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert node.stdout is not None
        lines = Lines(node.stdout)
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
        assert node.wait(timeout=LINE_SECONDS) == 0
    finally:
        if node.poll() is None:
            node.kill()
            node.wait()
