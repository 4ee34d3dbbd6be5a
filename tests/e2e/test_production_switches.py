"""Production mode and bearer tokens, on real server processes: what a stranger can learn
about the API, who may frame GraphiQL, and how long and under which keys a token holds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson
import pytest
import websockets
from graphql import get_introspection_query
from playwright.sync_api import expect
from websockets.typing import Subprotocol

from harness.server_process import ServerProcess
from tests.support import operations as ops
from tests.support.api import http_api
from tests.support.browser import CHROMIUM, NO_CHROMIUM, chromium

BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
TYPO = "{ recentPost(first: 1) { totalCount } }"


def introspect(server: ServerProcess) -> dict[str, object]:
    body: dict[str, object] = httpx.post(
        f"{server.url}/graphql", json={"query": get_introspection_query()}, timeout=30
    ).json()
    return body


def refused_as_invalid(
    server: ServerProcess, token: str, query: str = ops.VIEWER, variables: Any = None
) -> None:
    """A token that no longer verifies is refused, never read as anonymous: 401."""
    response = httpx.post(
        f"{server.url}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert response.json()["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


@pytest.fixture
def production(server_env: dict[str, str], tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess({**server_env, "INKWELL_ENV": "production"}, tmp_path) as running:
        yield running


def test_production_mode_hides_the_schema_the_hints_and_graphiql(
    production: ServerProcess,
) -> None:
    refused = introspect(production)
    assert refused.get("data") is None
    assert "introspection" in str(refused["errors"]).lower()

    api = http_api(production)
    error = api.error(TYPO)
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "Did you mean" not in error["message"] and "recentPosts" not in error["message"]
    typo_in_input = api.call('mutation { registerUser(input: {nme: "Ann"}) { token } }')
    assert typo_in_input["errors"] and "Did you mean" not in str(typo_in_input)

    page = httpx.get(f"{production.url}/graphql", headers=BROWSER, timeout=30)
    assert "graphiql" not in page.text.lower()
    # Coded as what it is (it was 404 with BAD_REQUEST), and saying what to send instead.
    assert page.status_code == 404
    (error,) = page.json()["errors"]
    assert error["extensions"] == {"code": "NOT_FOUND"}
    assert "no playground here" in error["message"]
    # What clients need still works, __typename included.
    assert api.ok("{ __typename }") == {"__typename": "Query"}
    assert api.register("Ann").token


def test_development_mode_shows_them_and_graphiql_cannot_be_framed(server: ServerProcess) -> None:
    assert "__schema" in introspect(server)["data"]  # type: ignore[operator]
    assert "Did you mean 'recentPosts'" in http_api(server).error(TYPO)["message"]
    page = httpx.get(f"{server.url}/graphql", headers=BROWSER, timeout=30)
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self' 'sha256-" in policy and "unsafe-eval" not in policy


def test_each_switch_overrides_production_mode_on_its_own(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**server_env, "INKWELL_ENV": "production", "INKWELL_INTROSPECTION": "on"}
    with ServerProcess(env, tmp_path) as server:
        assert "__schema" in introspect(server)["data"]  # type: ignore[operator]
        assert "Did you mean" not in http_api(server).error(TYPO)["message"]
        page = httpx.get(f"{server.url}/graphql", headers=BROWSER, timeout=30)
        assert "graphiql" not in page.text.lower()


def test_a_token_expires_after_the_configured_lifetime(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    lifetime_days = 3 / 86_400  # three seconds
    env = {**server_env, "INKWELL_TOKEN_DAYS": str(lifetime_days)}
    with ServerProcess(env, tmp_path) as server:
        api = http_api(server)
        ann = api.register("Ann")
        seen = {"X-Consistent-With": str(ann.position)}
        assert api.ok(ops.VIEWER, token=ann.token, headers=seen)["viewer"]["id"] == ann.id
        time.sleep(3.5)
        refused_as_invalid(server, ann.token)
        post = {"input": {"title": "t", "content": "c"}}
        refused_as_invalid(server, ann.token, ops.CREATE_POST_POSITION_ONLY, post)


@pytest.mark.parametrize(
    ("protocol", "start", "token_in"),
    [
        ("graphql-transport-ws", "subscribe", "connection_init"),
        ("graphql-transport-ws", "subscribe", "handshake"),
        ("graphql-ws", "start", "connection_init"),
    ],
)
def test_a_websocket_closes_with_4403_when_its_token_expires(
    server_env: dict[str, str], tmp_path: Path, protocol: str, start: str, token_in: str
) -> None:
    """A socket checks its token once, when it opens. It went on writing and reading as
    the token's user after the token expired: a createPost committed 6 s after a 4 s
    token's expiry. It is now closed with 4403 at the expiry, which graphql-ws clients
    answer by connecting again with their current connectionParams."""
    lifetime = 4.0
    env = {**server_env, "INKWELL_TOKEN_DAYS": str(lifetime / 86_400)}
    with ServerProcess(env, tmp_path) as server:
        token = http_api(server).register("Ann").token
        opened = time.time()
        code, reason, answer = asyncio.run(
            _write_until_closed(server.url, protocol, start, token, token_in)
        )
        lasted = time.time() - opened
    assert "errors" not in answer, answer  # the socket wrote while the token was valid
    assert (code, reason) == (4403, "The bearer token expired")
    assert lasted < lifetime + 1.5, lasted


async def _write_until_closed(
    url: str, protocol: str, start: str, token: str, token_in: str
) -> tuple[int | None, str | None, dict[str, Any]]:
    """Opens a socket with the token, writes once over it, then waits for its close
    (at most 10 s); returns the close code, its reason and the write's answer."""
    bearer = {"Authorization": f"Bearer {token}"}
    async with websockets.connect(
        url.replace("http", "ws", 1) + "/graphql",
        subprotocols=[Subprotocol(protocol)],
        additional_headers=bearer if token_in == "handshake" else {},
    ) as ws:
        init = bearer if token_in == "connection_init" else {}
        await ws.send(orjson.dumps({"type": "connection_init", "payload": init}).decode())
        assert orjson.loads(await ws.recv())["type"] == "connection_ack"
        write = {
            "query": ops.CREATE_POST_POSITION_ONLY,
            "variables": {"input": {"title": "t", "content": "c"}},
        }
        await ws.send(orjson.dumps({"id": "1", "type": start, "payload": write}).decode())
        answer: dict[str, Any] = orjson.loads(await ws.recv())["payload"]
        with pytest.raises(websockets.ConnectionClosed) as closed:
            async with asyncio.timeout(10):
                while True:
                    await ws.recv()
    frame = closed.value.rcvd
    return (frame.code, frame.reason, answer) if frame else (None, None, answer)


def test_rotating_the_signing_key_keeps_old_tokens_until_the_old_key_is_dropped(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    def serving(secret: str) -> ServerProcess:
        return ServerProcess({**server_env, "INKWELL_SECRET": secret}, tmp_path)

    old, new = "the-old-signing-key-of-this-test", "the-new-signing-key-of-this-test"
    with serving(old) as server:
        ann = http_api(server).register("Ann")
    seen = {"X-Consistent-With": str(ann.position)}
    with serving(f"{new},{old}") as server:
        api = http_api(server)
        assert api.ok(ops.VIEWER, token=ann.token, headers=seen)["viewer"]["id"] == ann.id
        bob = api.register("Bob")
        assert bob.token != ann.token
    with serving(new) as server:
        api = http_api(server)
        later = {"X-Consistent-With": str(bob.position)}
        assert api.ok(ops.VIEWER, token=bob.token, headers=later)["viewer"]["id"] == bob.id
        refused_as_invalid(server, ann.token)


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_graphiql_runs_a_query_under_its_content_security_policy(
    server: ServerProcess, tmp_path: Path
) -> None:
    """The policy pins the page's inline scripts by hash: a browser must still run the whole
    page, with no violation reported."""
    with chromium(tmp_path / "profile") as context:
        page = context.new_page()
        page.add_init_script(
            "window.violations = [];"
            "document.addEventListener('securitypolicyviolation',"
            " e => window.violations.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        page.goto(f"{server.url}/graphql")
        page.wait_for_selector(".graphiql-container", timeout=30_000)
        page.click(".graphiql-execute-button")  # the tab holds several operations:
        page.get_by_role("menuitem").first.click()  # run the first, RegisterUser
        expect(page.locator(".result-window")).to_contain_text("token", timeout=30_000)
        assert page.evaluate("window.violations") == []
