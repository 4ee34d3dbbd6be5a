"""A subscription on a socket whose handshake carries X-Consistent-With reads its first
state once the read models hold that position, against a server whose projector is
paused (SIGSTOP, as a frozen container) and then resumed."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from harness.server_process import ServerProcess
from tests.support.api import http_api

CREATE = "mutation($i: CreatePostInput!) { createPost(input: $i) { position postId } }"
LIKE = "mutation($i: PostCommandInput!) { likePost(input: $i) { position } }"
POST = "subscription($id: ID!) { post(id: $id) { id status likeCount } }"


@contextmanager
def subscribed(
    url: str, post_id: str, token: str, position: str | None
) -> Iterator[ClientConnection]:
    """A graphql-transport-ws socket subscribed to the post, X-Consistent-With `position`
    on its handshake if given."""
    headers = {} if position is None else {"X-Consistent-With": position}
    with connect(
        url, subprotocols=[Subprotocol("graphql-transport-ws")], additional_headers=headers
    ) as socket:
        init = {"Authorization": f"Bearer {token}"}
        socket.send(json.dumps({"type": "connection_init", "payload": init}))
        assert json.loads(socket.recv(timeout=10))["type"] == "connection_ack"
        payload = {"query": POST, "variables": {"id": post_id}}
        socket.send(json.dumps({"id": "p", "type": "subscribe", "payload": payload}))
        yield socket


def first_item(socket: ClientConnection) -> dict[str, Any]:
    return dict(json.loads(socket.recv(timeout=20))["payload"])


def resumed_in_a_second(process: subprocess.Popen[bytes]) -> None:
    threading.Timer(1.0, process.send_signal, [signal.SIGCONT]).start()


def test_a_subscription_waits_for_its_own_position_while_the_projector_lags(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    """Shared graphql-transport-ws groups were chosen, and read first, on their first
    member's context: the author's own draft, created while the projector was paused,
    was NOT_FOUND to a subscription with the draft's position (the group was chosen
    before the wait, as an anonymous reader's); a reader with a like's position joined
    the group of one without the header and was sent the post from before the like
    (re-check probes)."""
    env = {**server_env, "INKWELL_CONSISTENCY_TIMEOUT": "20"}
    api_server = ServerProcess(env, tmp_path, command="api").start()
    projector = ServerProcess(env, tmp_path, command="project").start(wait=False)
    assert projector.process is not None
    try:
        api = http_api(api_server)
        ann, bob = api.register("Ann"), api.register("Bob")  # each waits for the read models
        published = api.published_post(ann)
        url = api_server.url.replace("http", "ws") + "/graphql"

        projector.process.send_signal(signal.SIGSTOP)
        made = api.ok(CREATE, {"i": {"title": "Draft", "content": "C"}}, token=ann.token)
        draft = made["createPost"]
        resumed_in_a_second(projector.process)
        with subscribed(url, draft["postId"], ann.token, draft["position"]) as socket:
            expected = {"id": draft["postId"], "status": "DRAFT", "likeCount": 0}
            assert first_item(socket) == {"data": {"post": expected}}

        projector.process.send_signal(signal.SIGSTOP)
        liked = api.ok(LIKE, {"i": {"postId": published["id"]}}, token=bob.token)["likePost"]
        with subscribed(url, published["id"], bob.token, None) as plain:
            assert first_item(plain)["data"]["post"]["likeCount"] == 0  # the projector lags
            resumed_in_a_second(projector.process)
            with subscribed(url, published["id"], bob.token, liked["position"]) as waiting:
                assert first_item(waiting)["data"]["post"]["likeCount"] == 1
    finally:
        projector.process.send_signal(signal.SIGCONT)
        projector.stop()
        api_server.stop()
