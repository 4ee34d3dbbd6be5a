"""A shared subscription that fails before it joins its group answers that id with an
`error` and frees it: it had ended unanswered, and the id stayed taken (4409 on reuse)."""

from __future__ import annotations

from typing import Any, cast

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from starlette.testclient import TestClient

from tests.support.api import Api

POST = "subscription($id: ID!) { post(id: $id) { title } }"
SOME_ID = "00000000-0000-4000-8000-000000000000"


@pytest.mark.timeout(30)  # unanswered, the test would wait for ever
@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (RuntimeError("a bug"), "INTERNAL_SERVER_ERROR"),
        (RedisConnectionError("Redis is down"), "UNAVAILABLE"),
    ],
)
def test_a_failure_while_choosing_the_group_answers_the_id_and_frees_it(
    api: Api, monkeypatch: pytest.MonkeyPatch, failure: Exception, code: str
) -> None:
    token = api.register("Ann").token
    client = cast(TestClient, api.client)
    live = cast(Any, client.app).state.inkwell.services.live

    async def failing(post_id: str) -> None:
        raise failure

    monkeypatch.setattr(live, "post_now", failing)  # a signed-in reader's post is looked up
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        assert ws.receive_json() == {"type": "connection_ack"}
        for _ in range(2):  # the same id again: the first answer freed it
            payload = {"query": POST, "variables": {"id": SOME_ID}}
            ws.send_json({"id": "k1", "type": "subscribe", "payload": payload})
            answer = ws.receive_json()
            assert (answer["id"], answer["type"]) == ("k1", "error"), answer
            assert [e["extensions"]["code"] for e in answer["payload"]] == [code]
