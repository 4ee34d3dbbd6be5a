"""A third-party client from Node: the graphql-ws npm package follows a post on a real server."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
from pathlib import Path
from typing import IO, Any

import pytest

from tests.e2e.conftest import http_api
from tests.support import operations as ops
from tests.support.server_process import ROOT, ServerProcess

NODE_DIR = ROOT / "tests" / "node"
SCRIPT = NODE_DIR / "subscribe-post.mjs"
LINE_SECONDS = 30

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="node and npm are not on PATH: the graphql-ws client test runs on Node",
)


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """Installs the locked packages once (`npm ci`) when they are missing."""
    installed = NODE_DIR / "node_modules"
    if not installed.exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=300
        )
    return installed


class Lines:
    """A process's output lines, each awaited with a timeout (a reader thread drains the pipe)."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._drain, args=(stream,), daemon=True).start()

    def _drain(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)

    def next_json(self) -> Any:
        """The next line, parsed; anything else (an error's stack trace) fails with its text."""
        try:
            line = self._lines.get(timeout=LINE_SECONDS)
        except queue.Empty:
            raise AssertionError(f"no line from node within {LINE_SECONDS} s") from None
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            rest = "".join(self._lines.get(timeout=1) for _ in range(self._lines.qsize()))
            raise AssertionError(f"node printed: {line}{rest}") from None


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
