"""Rate limits, counted in Redis per client address and per user, shared by every API
process; loopback clients are limited like any other."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx2 as httpx
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from harness.server_process import ServerProcess
from tests.support import operations as ops
from tests.support.protected_server import StartServer, event_count

TYPENAME = {"query": "{ __typename }"}


def register(client: httpx.Client, name: str, **headers: str) -> httpx.Response:
    return client.post(
        "/graphql",
        json={"query": ops.REGISTER, "variables": {"input": {"name": name}}},
        headers=headers,
    )


def test_registrations_past_the_limit_are_refused_and_append_nothing(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server(INKWELL_RATE_LIMIT_REGISTER="3/minute")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for n in range(3):
            body = register(client, f"Writer {n}").json()
            assert "errors" not in body, body
        before = event_count(tmp_path)
        refused = register(client, "One too many").json()
        # Another address in X-Forwarded-For does not help: no proxy is trusted.
        spoofed = register(client, "Spoofed", **{"X-Forwarded-For": "203.0.113.9"}).json()
        # In the new media type the whole request's refusal is a 429, and says in its
        # headers when to come back, as the edge's refusals do.
        answered = register(client, "New type", accept="application/graphql-response+json")
    for body in (refused, spoofed, answered.json()):
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert 0 < error["extensions"]["retryAfter"] <= 60
        assert "data" not in body
    assert answered.status_code == 429
    (error,) = answered.json()["errors"]
    assert answered.headers["retry-after"] == str(error["extensions"]["retryAfter"])
    assert event_count(tmp_path) == before


def test_an_ipv6_client_is_counted_by_its_64(start_server: StartServer) -> None:
    """Behind a trusted proxy, so that the test can name the client: every address of a
    /64 shares one count (an outside probe registered 60 of 60 from one /64 where one
    address got 10), while another /64 has its own."""
    server = start_server(INKWELL_RATE_LIMIT_REGISTER="3/minute", INKWELL_TRUSTED_PROXIES="*")
    with httpx.Client(base_url=server.url, timeout=30) as client:

        def code_from(address: str) -> str | None:
            body = register(client, "Neighbour", **{"X-Forwarded-For": address}).json()
            return body["errors"][0]["extensions"]["code"] if "errors" in body else None

        assert [code_from(f"2001:db8:0:1::{n}") for n in (1, 2, 3)] == [None, None, None]
        assert code_from("2001:db8:0:1:abcd:ef01:2345:6789") == "RATE_LIMITED"
        assert code_from("2001:db8:0:2::1") is None


def test_registration_through_a_fragment_is_still_a_registration(
    start_server: StartServer,
) -> None:
    server = start_server(INKWELL_RATE_LIMIT_REGISTER="1/minute")
    hidden = """mutation($input: RegisterUserInput!) {
      ... on Mutation { ...R } } fragment R on Mutation { registerUser(input: $input) { token } }"""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert "errors" not in register(client, "First").json()
        body = client.post(
            "/graphql", json={"query": hidden, "variables": {"input": {"name": "Second"}}}
        ).json()
    assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


def aliased(field: str, count: int, arguments: str) -> str:
    """One mutation request holding `count` aliased copies of the field."""
    return (
        "mutation { "
        + " ".join(
            f"m{n}: {field}(input: {{{arguments.format(n=n)}}}) {{ position }}"
            for n in range(count)
        )
        + " }"
    )


def test_each_aliased_registration_counts_against_the_limit(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server(INKWELL_RATE_LIMIT_REGISTER="3/minute")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        two = client.post("/graphql", json={"query": aliased("registerUser", 2, 'name: "A{n}"')})
        assert "errors" not in two.json(), two.json()
        before = event_count(tmp_path)
        # Two more would make four registrations in the minute: the whole request is refused.
        refused = client.post(
            "/graphql", json={"query": aliased("registerUser", 2, 'name: "B{n}"')}
        )
        assert event_count(tmp_path) == before
        third = register(client, "The third").json()
        fourth = register(client, "The fourth").json()
    assert "errors" not in third, third
    for body in (refused.json(), fourth):
        assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert "data" not in body


def test_each_aliased_write_counts_against_the_write_limit(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server(INKWELL_RATE_LIMIT_WRITES="4/minute")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        token = register(client, "Writer").json()["data"]["registerUser"]["token"]
        auth = {"Authorization": f"Bearer {token}"}
        post = 'title: "P{n}", content: "Text."'
        three = client.post(
            "/graphql", json={"query": aliased("createPost", 3, post)}, headers=auth
        )
        assert "errors" not in three.json(), three.json()
        before = event_count(tmp_path)
        refused = client.post(
            "/graphql", json={"query": aliased("createPost", 2, post)}, headers=auth
        )
        assert event_count(tmp_path) == before
        one = client.post("/graphql", json={"query": aliased("createPost", 1, post)}, headers=auth)
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert "errors" not in one.json(), one.json()


def test_more_aliased_writes_than_a_whole_window_allows_is_too_complex(
    start_server: StartServer, tmp_path: Path
) -> None:
    """11 aliased registerUser against 10 a minute were told RATE_LIMITED, try again in
    1 s, again and again: no wait lets them in (a re-check probe)."""
    server = start_server(INKWELL_RATE_LIMIT_REGISTER="3/minute")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        before = event_count(tmp_path)
        body = client.post(
            "/graphql", json={"query": aliased("registerUser", 4, 'name: "A{n}"')}
        ).json()
        assert event_count(tmp_path) == before
        (error,) = body["errors"]
        assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "count": 4, "most": 3}
        assert "INKWELL_RATE_LIMIT_REGISTER" in error["message"]
        three = client.post("/graphql", json={"query": aliased("registerUser", 3, 'name: "B{n}"')})
    assert "errors" not in three.json(), three.json()  # the refusal spent nothing


def test_a_request_refused_for_its_token_is_not_kept_in_its_addresss_count(
    start_server: StartServer,
) -> None:
    """A signed-in client past its token's rate was still charged to its address's, which
    then refused the address's other requests early (a re-check probe: 15 of 20)."""
    server = start_server(
        INKWELL_RATE_LIMIT_REQUESTS="12/minute", INKWELL_RATE_LIMIT_PER_TOKEN="4/minute"
    )
    with httpx.Client(base_url=server.url, timeout=30) as client:
        token = register(client, "Signed in").json()["data"]["registerUser"]["token"]  # 1
        auth = {"Authorization": f"Bearer {token}"}
        signed = [client.post("/graphql", json=TYPENAME, headers=auth) for _ in range(7)]
        anonymous = [client.post("/graphql", json=TYPENAME) for _ in range(9)]
    assert [answer.status_code for answer in signed] == [200] * 4 + [429] * 3
    # 12 a minute: the start's readiness request, the registration and the 4 signed in
    # leave 6 (3 when the refused ones were kept)
    assert [answer.status_code for answer in anonymous] == [200] * 6 + [429] * 3


def test_guessing_tokens_is_limited_per_address(start_server: StartServer) -> None:
    server = start_server(INKWELL_RATE_LIMIT_BAD_TOKENS="5/minute")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        token = register(client, "Ann").json()["data"]["registerUser"]["token"]
        answers = [
            client.post(
                "/graphql", json=TYPENAME, headers={"Authorization": f"Bearer {uuid.uuid4()}.x"}
            )
            for _ in range(7)
        ]
        anonymous = client.post("/graphql", json=TYPENAME)
        # Past the limit a valid token is refused unchecked too: answered, it told the
        # guesser which guess was right (an outside probe: 1,200 a minute checked).
        right_guess = client.post(
            "/graphql", json=TYPENAME, headers={"Authorization": f"Bearer {token}"}
        )
    elsewhere = httpx.Client(
        base_url=server.url, transport=httpx.HTTPTransport(local_address="127.0.0.9")
    )
    with elsewhere:
        signed_in = elsewhere.post(
            "/graphql", json=TYPENAME, headers={"Authorization": f"Bearer {token}"}
        )
    assert right_guess.status_code == 429, right_guess.text
    assert signed_in.status_code == 200, signed_in.text  # its user is not locked out
    assert [answer.status_code for answer in answers] == [401] * 5 + [429] * 2
    refused = answers[-1]
    assert int(refused.headers["retry-after"]) > 0
    (error,) = refused.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["retryAfter"] == int(refused.headers["retry-after"])
    # The address still gets answers without a token: only guessing is stopped.
    assert anonymous.status_code == 200


async def open_socket(
    server: ServerProcess, header_token: str | None = None, init_token: str | None = None
) -> int | None:
    """Opens a graphql-transport-ws socket, sends connection_init; the close code the
    server answers with (None when it acknowledged), or the HTTP status that refused the
    handshake (a coded JSON answer, as every refusal: it was an empty 403)."""
    headers = {"Authorization": f"Bearer {header_token}"} if header_token else {}
    payload = {"Authorization": f"Bearer {init_token}"} if init_token else {}
    try:
        async with websockets.connect(
            f"ws://127.0.0.1:{server.port}/graphql",
            subprotocols=[Subprotocol("graphql-transport-ws")],
            additional_headers=headers,
        ) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
            try:
                assert json.loads(await socket.recv())["type"] == "connection_ack"
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None
            return None
    except InvalidStatus as refused:
        answer = refused.response
        (error,) = json.loads(answer.body)["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED", error
        assert answer.headers["retry-after"] == str(error["extensions"]["retryAfter"])
        return answer.status_code


async def test_a_bad_token_in_a_websocket_handshake_is_refused_and_counted(
    start_server: StartServer,
) -> None:
    """As over HTTP: a token that does not verify is no anonymous visit, and guessing is
    limited per address, in the handshake's header as in connection_init."""
    server = start_server(INKWELL_RATE_LIMIT_BAD_TOKENS="4/minute")
    forged = f"{uuid.uuid4()}.x"
    for _ in range(2):
        assert await open_socket(server, header_token=forged) == 4403
        assert await open_socket(server, init_token=forged) == 4403
    # Four guesses made, each counted once: the next handshake with a bad token is
    # refused outright, and so is a guess over HTTP from the same address.
    assert await open_socket(server, header_token=forged) == 429
    guess = httpx.post(
        f"{server.url}/graphql", json=TYPENAME, headers={"Authorization": f"Bearer {forged}"}
    )
    assert guess.status_code == 429
    assert await open_socket(server) is None  # without a token the address is served


async def test_past_the_limit_a_valid_token_in_connection_init_is_refused_unchecked(
    start_server: StartServer,
) -> None:
    """Each guess on a new socket was checked and answered, 4403 or connection_ack, at
    the request rate: the limit refused nothing (an outside probe: 1,200 in 20 s)."""
    server = start_server(INKWELL_RATE_LIMIT_BAD_TOKENS="3/minute")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        token = register(client, "Ann").json()["data"]["registerUser"]["token"]
    assert await open_socket(server, init_token=token) is None  # before: signed in
    for _ in range(4):  # the fourth guess is past the limit
        assert await open_socket(server, init_token=f"{uuid.uuid4()}.x") == 4403
    assert await open_socket(server, init_token=token) == 4403
    assert await open_socket(server) is None  # without a token the address is served


async def test_websocket_handshakes_count_as_requests(start_server: StartServer) -> None:
    server = start_server(INKWELL_RATE_LIMIT_REQUESTS="4/minute")
    # wait_until_serving spent one request.
    assert [await open_socket(server) for _ in range(4)] == [None, None, None, 429]
    assert [await open_socket(server) for _ in range(3)] == [429] * 3
    # A refusal is an answer, not the server's error: uvicorn logged "ASGI callable
    # returned without completing handshake." at ERROR for each, one address's flood.
    assert '"level":"ERROR"' not in server.log.read_text()


def test_every_route_but_health_counts_against_the_address(start_server: StartServer) -> None:
    """/metrics, /ready, the live page and the static files were never counted: one
    address flooded /metrics at 300 answers a second, or pulled GraphiQL's 3.5 MB script
    without end. /health is what orchestrators poll: never refused."""
    server = start_server(INKWELL_RATE_LIMIT_REQUESTS="4/minute")
    # An address of its own: wait_until_serving spent one of 127.0.0.1's requests.
    transport = httpx.HTTPTransport(local_address="127.0.0.7")
    with httpx.Client(base_url=server.url, transport=transport, timeout=30) as client:
        counted = [client.get(path) for path in ("/metrics", "/ready", "/", "/static/live.js")]
        refused = [client.get(path) for path in ("/metrics", "/ready", "/static/live.js", "/")]
        health = [client.get("/health") for _ in range(3)]
    assert [answer.status_code for answer in counted if answer.status_code == 429] == []
    for answer in refused:
        assert answer.status_code == 429, answer.text
        (error,) = answer.json()["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert answer.headers["retry-after"] == str(error["extensions"]["retryAfter"])
    assert [answer.status_code for answer in health] == [200] * 3


def test_every_api_process_shares_the_count(start_server: StartServer) -> None:
    limits = {"INKWELL_RATE_LIMIT_REQUESTS": "6/minute"}
    first = start_server("api", **limits)
    second = start_server("api", **limits)
    with httpx.Client(timeout=30) as client:
        statuses = [
            client.post(f"{server.url}/graphql", json=TYPENAME).status_code
            for server in (first, second) * 4
        ]
    # wait_until_serving spent one request on each process.
    assert statuses == [200] * 4 + [429] * 4


def test_off_turns_every_rate_limit_off(start_server: StartServer) -> None:
    server = start_server(
        INKWELL_RATE_LIMITS="off",
        INKWELL_RATE_LIMIT_REGISTER="1/minute",
        INKWELL_RATE_LIMIT_BAD_TOKENS="1/minute",
        INKWELL_MAX_QUERY_COST="1000",
        INKWELL_RATE_LIMIT_QUERY_COST="1000/minute",
    )
    page = {"query": "{ recentPosts(first: 100) { edges { node { id title } } } }"}  # 302
    with httpx.Client(base_url=server.url, timeout=30) as client:
        registered = [register(client, f"Burst {n}").json() for n in range(5)]
        guesses = [
            client.post("/graphql", json=TYPENAME, headers={"Authorization": "Bearer bad.token"})
            for _ in range(5)
        ]
        pages = [client.post("/graphql", json=page).json() for _ in range(5)]
    assert all("errors" not in body for body in registered + pages)
    assert all(guess.status_code == 401 for guess in guesses)  # refused, never rate limited


def test_preflights_from_a_listed_origin_count_against_the_address(
    start_server: StartServer,
) -> None:
    """The CORS layer answered them itself, ahead of the request rate: 3,000 from one
    address were all answered, and 5,000 requested headers each held another client at
    p50 125-163 ms (an outside probe: protection/preflight_rate.py)."""
    origin = "https://app.example.com"
    server = start_server(INKWELL_RATE_LIMIT_REQUESTS="4/minute", INKWELL_CORS_ORIGINS=origin)
    preflight = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    transport = httpx.HTTPTransport(local_address="127.0.0.8")
    with httpx.Client(base_url=server.url, transport=transport, timeout=30) as client:
        answers = [client.options("/graphql", headers=preflight) for _ in range(6)]
    assert [answer.status_code for answer in answers] == [200] * 4 + [429] * 2
    assert answers[-1].json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    many = {**preflight, "Access-Control-Request-Headers": ",".join(["content-type"] * 5000)}
    elsewhere = httpx.HTTPTransport(local_address="127.0.0.9")
    with httpx.Client(base_url=server.url, transport=elsewhere, timeout=30) as client:
        refused = client.options("/graphql", headers=many)
        fine = client.options(
            "/graphql", headers={**preflight, "Access-Control-Request-Headers": "content-type"}
        )
    assert refused.status_code == 400, refused.text
    assert "at most 64 headers" in refused.json()["errors"][0]["message"]
    assert fine.status_code == 200, fine.text
