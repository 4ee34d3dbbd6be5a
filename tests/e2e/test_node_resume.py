"""The reconnect recipe of docs/clients.md with the graphql-ws npm package: a server that
restarts under a feed subscriber. The client keeps `after` one below the largest position
it received (posts changed by one event share a position); what was published while the
server was down reaches it once it is back. Before, graphql-ws resubscribed as it was and
those posts never arrived."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.server_process import ServerProcess
from tests.support import operations as ops
from tests.support.api import Account, Api, http_api
from tests.support.node import NodeScript, install_locked_packages, needs_node

pytestmark = needs_node

MAX_POSITION = "{ recentPosts(first: 100) { edges { node { readModelPosition } } } }"


def test_a_feed_subscriber_resumes_across_a_server_restart(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    install_locked_packages()
    # The client's server restarts; writes go through a second one on the same log and Redis.
    followed = ServerProcess(server_env, tmp_path, command="api").start()
    writer = ServerProcess(server_env, tmp_path).start()
    try:
        api = http_api(writer)
        ann = api.register("Ann")
        listed = api.published_post(ann, "Before the page loaded")
        page = http_api(followed).ok(MAX_POSITION)["recentPosts"]["edges"]
        after = max(edge["node"]["readModelPosition"] for edge in page) - 1
        url = followed.url.replace("http", "ws") + "/graphql"
        with NodeScript("resume-feed.mjs", url, str(after), "6") as lines:
            assert lines.next_json() == {"connected": 1}
            assert lines.next_json()["id"] == listed["id"]  # at the page's position: again
            seen = published_until_shown(api, ann, lines, "Seen")

            followed.stop()
            away = api.published_post(ann, "Published while away")
            gone = api.published_post(ann, "Published and archived while away")
            api.ok(ops.LIKE_POST, {"input": {"postId": seen["id"]}}, token=ann.token)
            api.ok(ops.ARCHIVE_POST, {"input": {"postId": gone["id"]}}, token=ann.token)
            archived = api.ok(
                ops.ARCHIVE_POST, {"input": {"postId": listed["id"]}}, token=ann.token
            )
            api.create_post(ann, "A draft while away")
            # All applied before the client is back: the two archived posts are in their
            # final state in its catch-up, none published in it and archived live after.
            consistent = {"X-Consistent-With": str(archived["archivePost"]["position"])}
            api.ok(MAX_POSITION, headers=consistent)
            followed.start()

            assert lines.next_json() == {"connected": 2}
            caught_up = [lines.next_json() for _ in range(3)]
            assert [(p["id"], p["title"], p["status"]) for p in caught_up] == [
                (away["id"], "Published while away", "PUBLISHED"),
                (seen["id"], "Seen", "PUBLISHED"),  # liked while away
                (listed["id"], "", "ARCHIVED"),  # the page listed it: drop it
            ]  # never the post published after the client's position and archived since
            back = api.published_post(ann, "Back")
            assert lines.next_json()["id"] == back["id"]
            assert lines.exit_code() == 0
    finally:
        followed.stop()
        writer.stop()


def published_until_shown(api: Api, author: Account, lines: NodeScript, title: str) -> Any:
    """Publishes one post and reads its item: after the page's position, it comes whether
    the server followed the feed before the publication or only after it."""
    post = api.published_post(author, title)
    shown = lines.next_json()
    assert shown["id"] == post["id"], shown
    return shown
