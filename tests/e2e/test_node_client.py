"""A third-party client from Node: the graphql-ws npm package follows a post on a real server,
and the feed across a restart of the server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def test_the_documented_graphql_ws_client_outlives_a_restart_and_reads_what_it_missed(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    """docs/clients.md's graphql-ws settings, against its defaults, while the API process
    the clients follow restarts: its first retry meets a refused connection, which the
    defaults take as fatal (the feed ended with an error). Posts are written through
    another process meanwhile, so one is published while the clients are away."""
    install_locked_packages()
    with (
        ServerProcess(server_env, tmp_path) as writer,
        ServerProcess(server_env, tmp_path, command="api") as followed,
    ):
        api = http_api(writer)
        ann = api.register("Ann")
        with NodeScript("feed-across-restarts.mjs", f"{followed.url}/graphql") as script:
            events = Events(script)
            events.until("documented", "connected")
            events.until("defaults", "connected")
            followed.stop()
            assert events.until("defaults", "error")["error"].startswith("connect ECONNREFUSED")
            api.published_post(ann, "Published while it was away")
            followed.start()
            assert events.until("documented", "connected") == {
                "client": "documented",
                "event": "connected",
                "wasRetry": True,
            }
            refetched = events.until("documented", "refetched")
            assert "Published while it was away" in refetched["titles"]
            api.published_post(ann, "Published after")
            assert events.until("documented", "item")["title"] == "Published after"
    by_defaults = [seen["event"] for seen in events.seen if seen["client"] == "defaults"]
    assert by_defaults == ["connected", "error"]  # and nothing after: its feed had ended


class Events:
    """The script's JSON lines, read in order, kept for the assertions at the end."""

    def __init__(self, script: NodeScript) -> None:
        self.script = script
        self.seen: list[dict[str, Any]] = []
        self._passed: list[dict[str, Any]] = []  # read past by an earlier wait, not yet asked for

    def until(self, client: str, event: str) -> dict[str, Any]:
        """The next line of that client and event, reading past the others. A line read past
        is kept for a later wait: the two clients connect in either order, and a wait for
        the second one's connection read past it and then waited 30 s for another (a CI
        failure)."""
        for passed in self._passed:
            if (passed["client"], passed["event"]) == (client, event):
                self._passed.remove(passed)
                return passed
        while True:
            line: dict[str, Any] = self.script.next_json()
            self.seen.append(line)
            if (line["client"], line["event"]) == (client, event):
                return line
            self._passed.append(line)
