"""GraphQL over HTTP as the specification and browser clients expect it, on a real server:
media types, status codes, GET for queries only, cache headers, and CORS."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest

from harness.server_process import ServerProcess
from schema import content_type, media
from tests.support import operations as ops
from tests.support.api import http_api
from tests.support.shared_server import shared_server

GRAPHQL_RESPONSE = "application/graphql-response+json"
APP_ORIGIN = "http://localhost:5173"
APOLLO_ACCEPT = "application/graphql-response+json,application/json;q=0.9"


@pytest.fixture(scope="module")
def server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        # The second as an operator may write it, not as a browser sends it.
        "INKWELL_CORS_ORIGINS": f"{APP_ORIGIN}, https://App.Example.com:443",
        "INKWELL_CORS_HEADERS": "X-Datadog-Trace-Id, b3",
    }
    with shared_server(redis_url, tmp_path_factory.mktemp("http"), env) as running:
        yield running


def post(client: httpx.Client, body: Any, accept: str | None, **headers: str) -> httpx.Response:
    sent = {"content-type": "application/json", **headers}
    if accept is not None:
        sent["accept"] = accept
    return client.post("/graphql", content=json.dumps(body), headers=sent)


def get(
    client: httpx.Client, params: dict[str, Any], accept: str = APOLLO_ACCEPT, **headers: str
) -> httpx.Response:
    encoded = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    return client.get("/graphql", params=encoded, headers={"accept": accept, **headers})


def media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0]


# Media types and status codes


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (APOLLO_ACCEPT, GRAPHQL_RESPONSE),
        ("application/json, application/graphql-response+json;q=0.5", "application/json"),
        # Named beats a wildcard at the same quality, whichever it is.
        (f"{GRAPHQL_RESPONSE}, */*", GRAPHQL_RESPONSE),
        (f"*/*, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        ("application/json, */*", "application/json"),
        (f"{GRAPHQL_RESPONSE};q=0.5, */*", "application/json"),
    ],
)
def test_a_result_comes_in_the_media_type_the_client_prefers(
    client: httpx.Client, accept: str | None, expected: str
) -> None:
    response = post(client, {"query": "{ recentPosts(first: 1) { totalCount } }"}, accept)
    assert response.status_code == 200
    assert media_type(response) == expected
    assert response.json()["data"]["recentPosts"]["totalCount"] >= 0


def test_a_client_accepting_neither_type_gets_406(client: httpx.Client) -> None:
    response = post(client, {"query": "{ __typename }"}, "application/xml")
    assert response.status_code == 406
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"


def test_an_accept_longer_than_any_client_sends_is_answered_as_if_absent(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 64 KB Accept of thousands of ranges took about 25 ms of the event loop each, and
    four clients sending it raised another's p50 from 3 to 19 ms (an outside probe)."""
    accept = "text/x-a;q=0.1, " * 3_000 + GRAPHQL_RESPONSE
    response = post(client, {"query": "{ __typename }"}, accept)
    assert response.status_code == 200
    assert media_type(response) == "application/json"
    read = "text/x-a;q=0.1, " * 60 + GRAPHQL_RESPONSE  # 993 characters
    assert media.negotiate(read) == GRAPHQL_RESPONSE
    monkeypatch.setattr(media, "_ranges", _not_to_be_parsed)  # in process: not read
    assert media.negotiate(accept) == media.JSON


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ recentPosts(first: 1) { edges ", "GRAPHQL_PARSE_FAILED"),
        ("{ noSuchField }", "GRAPHQL_VALIDATION_FAILED"),
        ("query($n: Int!) { recentPosts(first: $n) { totalCount } }", None),
    ],
)
def test_a_request_failing_before_execution_is_a_4xx_without_data_in_the_new_type(
    client: httpx.Client, query: str, code: str | None
) -> None:
    response = post(client, {"query": query}, GRAPHQL_RESPONSE)
    assert response.status_code == 400
    assert media_type(response) == GRAPHQL_RESPONSE
    body = response.json()
    assert "data" not in body
    assert body["errors"]
    if code is not None:
        assert {error["extensions"]["code"] for error in body["errors"]} <= {
            code,
            "GRAPHQL_VALIDATION_FAILED",
        }


def test_the_same_failure_is_a_200_in_application_json(client: httpx.Client) -> None:
    response = post(client, {"query": "{ noSuchField }"}, "application/json")
    assert response.status_code == 200
    assert media_type(response) == "application/json"
    assert response.json()["errors"]
    assert "data" not in response.json()  # nothing ran: "should not be present" (spec)


def test_an_error_during_execution_is_a_200_with_data(client: httpx.Client) -> None:
    response = post(
        client, {"query": '{ recentPosts(after: "not a cursor") { totalCount } }'}, GRAPHQL_RESPONSE
    )
    assert response.status_code == 200
    body = response.json()
    assert "data" in body
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    "body",
    ["{not json", json.dumps([1, 2]), json.dumps({"query": 5}), json.dumps({"variables": {}})],
)
def test_malformed_requests_are_400_with_a_graphql_error_body(
    client: httpx.Client, body: str
) -> None:
    response = client.post(
        "/graphql",
        content=body,
        headers={"content-type": "application/json", "accept": GRAPHQL_RESPONSE},
    )
    assert response.status_code == 400
    assert media_type(response) == GRAPHQL_RESPONSE
    assert response.json()["errors"][0]["message"]


def test_an_unsupported_request_body_type_is_415(client: httpx.Client) -> None:
    response = client.post(
        "/graphql", content="{ __typename }", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.json()["errors"] == [
        {
            "message": "A GraphQL POST body must be application/json.",
            "extensions": {"code": "UNSUPPORTED_MEDIA_TYPE"},
        }
    ]


@pytest.mark.parametrize(
    ("accept", "returned"), [(None, "application/json"), (APOLLO_ACCEPT, GRAPHQL_RESPONSE)]
)
@pytest.mark.parametrize(
    ("declared", "encoding"),
    [
        ("charset=utf-16", "utf-16"),
        # The body the probe sent: ASCII labelled UTF-16, which ran as if UTF-8.
        ('charset="UTF-16"', "ascii"),
        ("Charset=latin1", "latin1"),
    ],
)
def test_a_json_body_in_a_charset_other_than_utf_8_is_415(
    client: httpx.Client, accept: str | None, returned: str, declared: str, encoding: str
) -> None:
    """GraphQL over HTTP lets a server refuse a body it cannot decode; this one reads
    UTF-8 alone (orjson), and read every other charset as if it were UTF-8."""
    headers = {"content-type": f"application/json; {declared}"}
    if accept is not None:
        headers["accept"] = accept
    body = '{"query": "{ __typename }"}'.encode(encoding)
    response = client.post("/graphql", content=body, headers=headers)
    assert response.status_code == 415
    assert media_type(response) == returned
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "UNSUPPORTED_MEDIA_TYPE"}
    charset = declared.partition("=")[2].strip('"')
    assert f"UTF-8, not charset '{charset}'" in error["message"]


def test_a_content_type_longer_than_any_client_sends_is_415_unparsed(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """15,000 `;a=b` parameters (60 KB, inside the header limit) were parsed by
    email.message in 0.4 s of the event loop and answered 200; a random last parameter
    got past the parse's cache, so a few such requests a second stalled every client."""
    value = "application/json" + ";a=b" * 15_000 + ";x=1"
    response = client.post(
        "/graphql", content='{"query": "{ __typename }"}', headers={"content-type": value}
    )
    assert response.status_code == 415
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "UNSUPPORTED_MEDIA_TYPE"}
    assert error["message"].startswith("A Content-Type of over 256 characters")
    # In process: neither answer parses it.
    monkeypatch.setattr(content_type, "parse_content_type", _not_to_be_parsed)
    monkeypatch.setattr(content_type, "Message", _not_to_be_parsed)
    assert content_type.parsed_content_type(value + "2") == ("", {})
    assert content_type.unreadable(value + "2") is not None


def _not_to_be_parsed(*_args: object) -> None:
    raise AssertionError("parsed")


def test_content_type_parameters_are_read_on_every_request(client: httpx.Client) -> None:
    """Each Content-Type's parse is memoized (schema/content_type.py): the same header
    keeps its answer, and a new one gets its own."""
    for _ in range(2):
        for value, status in (
            ("application/json; charset=utf-8", 200),
            ("application/json; charset=utf-16", 415),
            ("text/plain; charset=utf-8", 415),
            ("application/json", 200),
            ("APPLICATION/JSON", 200),  # media types are case-insensitive (RFC 9110)
            ("Application/Json; Charset=UTF-8", 200),
            ("application/jsonx", 415),  # was taken for JSON: strawberry matched a substring
            ("text/application/json", 415),
            ("application/json-patch+json", 415),
            # Forms are not read at all, so a form field given twice is never a question.
            ("application/x-www-form-urlencoded", 415),
            ("multipart/form-data; boundary=x", 415),
        ):
            response = client.post(
                "/graphql", content='{"query": "{ __typename }"}', headers={"content-type": value}
            )
            assert response.status_code == status, value


# GET


def test_a_query_runs_over_get(client: httpx.Client) -> None:
    response = get(
        client,
        {
            "query": "query Recent($n: Int) { recentPosts(first: $n) { totalCount } }",
            "variables": {"n": 2},
            "operationName": "Recent",
        },
    )
    assert response.status_code == 200
    assert media_type(response) == GRAPHQL_RESPONSE
    assert "totalCount" in response.json()["data"]["recentPosts"]


@pytest.mark.parametrize("name", ["variables", "extensions"])
def test_get_parameters_may_be_null_as_in_a_body(client: httpx.Client, name: str) -> None:
    response = get(client, {"query": "{ __typename }", name: "null"})
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("value", ["{not json", "[1]", "5", '"x"'])
@pytest.mark.parametrize("name", ["variables", "extensions"])
def test_get_parameters_that_are_not_objects_are_400_naming_the_parameter(
    client: httpx.Client, name: str, value: str
) -> None:
    response = get(client, {"query": "{ __typename }", name: value})
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert error["message"] == f"The `{name}` parameter must be a JSON object or null."


@pytest.mark.parametrize("accept", ["application/json", APOLLO_ACCEPT])
@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("query", ["{ __typename }", "{ recentPosts { totalCount } }"]),
        ("variables", ['{"n": 1}', '{"n": 2}']),
        ("operationName", ["Recent", "Other"]),
        ("extensions", ["{}", "{}", "{}"]),
    ],
)
def test_a_get_parameter_given_twice_is_400_naming_it(
    client: httpx.Client, name: str, values: list[str], accept: str
) -> None:
    """Starlette keeps the last of a repeated parameter, where a cache or a proxy in front
    may have read the first: `?query=a&query=b` ran b."""
    document = "query Recent($n: Int) { recentPosts(first: $n) { totalCount } }"
    params: dict[str, str | list[str]] = {name: values}
    if name != "query":
        params["query"] = document
    response = client.get("/graphql", params=params, headers={"accept": accept})
    assert response.status_code == 400, response.text
    assert media_type(response) == accept.split(",")[0]
    (error,) = response.json()["errors"]
    assert error == {
        "message": f"The `{name}` parameter is given {len(values)} times: give it once.",
        "extensions": {"code": "BAD_REQUEST"},
    }


@pytest.mark.parametrize(
    "body",
    [
        '{"query": "{ __typename }", "query": "{ viewer { id } }"}',
        '{"query": "{ __typename }", "\\u0071uery": "{ viewer { id } }"}',  # spelt escaped
        '{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "a"}, '
        '"persistedQuery": {"version": 1, "sha256Hash": "b"}}}',
        '{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "a", "sha256Hash": "b"}}}',
    ],
    ids=["plain", "escaped", "persistedQuery", "sha256Hash"],
)
def test_a_body_key_given_twice_is_400_naming_it(client: httpx.Client, body: str) -> None:
    """orjson keeps the last of a repeated key, where a gateway or an allow-list in front
    may read the first: `{"query": a, "query": b}` ran b, as `?query=a&query=b` did."""
    response = client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert "is given twice in one object" in error["message"]


def test_a_batch_is_refused_whatever_it_holds(client: httpx.Client) -> None:
    """So its requests are not looked into for repeats: a batch of 20-deep chains of
    extensions, 99 members each, took 0.7 s a body to look into (a re-check probe)."""
    for body in (
        '[{"query": "{ __typename }", "operationName": null, "operationName": "X"}]',
        '[{"query": "{ __typename }"}]',
    ):
        response = client.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, response.text
        (error,) = response.json()["errors"]
        assert error["extensions"] == {"code": "BAD_REQUEST"}
        assert "Batching is not enabled" in error["message"]


def test_a_get_extensions_key_given_twice_is_400(client: httpx.Client) -> None:
    hashes = '"persistedQuery": {"version": 1, "sha256Hash": "a", "sha256Hash": "b"}'
    response = client.get("/graphql", params={"extensions": "{" + hashes + "}"})
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["message"] == "`sha256Hash` is given twice in one object: give it once."


@pytest.mark.parametrize(
    "message",
    [
        '{"id": "1", "type": "subscribe", "payload": '
        '{"query": "{ __typename }", "query": "{ viewer { id } }"}}',
        '{"id": "1", "type": "subscribe", "payload": {"query": "{ __typename }"}, '
        '"payload": {"query": "{ viewer { id } }"}}',
        '{"id": "1", "type": "subscribe", "id": "2", "payload": {"query": "{ __typename }"}}',
    ],
    ids=["query", "payload", "id"],
)
@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_a_websocket_message_giving_a_key_twice_is_refused(
    server: ServerProcess, message: str, protocol: str
) -> None:
    """Over a socket the last `query` of a subscribe ran, on both protocols; so did the
    last of two payloads (a re-check probe), and a subscribe giving ids 1 and 2 ran as 2
    (an outside probe). The close names the key."""
    import websockets
    from websockets.typing import Subprotocol

    url = server.url.replace("http", "ws") + "/graphql"
    async with websockets.connect(url, subprotocols=[Subprotocol(protocol)]) as ws:
        await ws.send('{"type": "connection_init"}')
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        if protocol == "graphql-ws":
            message = message.replace('"subscribe"', '"start"')
        await ws.send(message)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
    assert "is given twice in one object" in closed.value.rcvd.reason


NESTED = ",".join(["[" * 200 + "]" * 200] * 50)  # 10,000 arrays in 20 KB


def test_a_body_of_more_objects_and_arrays_than_a_request_holds_is_400_unread(
    client: httpx.Client,
) -> None:
    """A 1 MB body of nested arrays took orjson 53 ms to read, 20 times a second within an
    address's request rate (an outside probe's WebSocket finding, measured on bodies)."""
    body = '{"query": "{ __typename }", "variables": {"x": [' + NESTED + "]}}"
    response = client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert "JSON objects and arrays: no request holds so many" in error["message"]


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_a_websocket_message_of_too_many_objects_and_arrays_is_refused(
    server: ServerProcess, protocol: str
) -> None:
    """50 sockets sending 130 KB pings of 64,600 nested arrays, within the message budget,
    held another client's `{ __typename }` 1.7-6.4 s (an outside probe)."""
    import websockets
    from websockets.typing import Subprotocol

    url = server.url.replace("http", "ws") + "/graphql"
    async with websockets.connect(url, subprotocols=[Subprotocol(protocol)]) as ws:
        await ws.send('{"type": "connection_init"}')
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send('{"type": "ping", "payload": {"x": [' + NESTED + "]}}")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
    assert "no request holds so many" in closed.value.rcvd.reason


def test_a_body_without_repeats_is_read_as_before(client: httpx.Client) -> None:
    # The names, and an escape, inside values are no repeat.
    query = '{ a: __typename b: __typename } # "query" "query" \\u0041'
    response = client.post("/graphql", json={"query": query, "variables": {"query": "query"}})
    assert response.json() == {"data": {"a": "Query", "b": "Query"}}, response.text


def test_a_mutation_over_get_is_405_and_changes_nothing(
    client: httpx.Client, server: ServerProcess
) -> None:
    api = http_api(server)
    before = api.ok("{ recentPosts { totalCount } }")
    response = get(client, {"query": ops.REGISTER, "variables": {"input": {"name": "Mallory"}}})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, POST"
    assert media_type(response) == GRAPHQL_RESPONSE
    (error,) = response.json()["errors"]
    assert "POST" in error["message"]
    assert error["extensions"] == {"code": "METHOD_NOT_ALLOWED"}
    assert api.ok("{ recentPosts { totalCount } }") == before


def test_head_answers_as_get_does_without_a_body(client: httpx.Client) -> None:
    """A CDN revalidating a cached query, or a monitor checking the endpoint, sends HEAD:
    it was 405 where GET was 200."""
    params = {"query": "{ recentPosts(first: 1) { totalCount } }"}
    got = get(client, params)
    encoded = {name: str(value) for name, value in params.items()}
    head = client.head("/graphql", params=encoded, headers={"accept": APOLLO_ACCEPT})
    assert head.status_code == got.status_code == 200, head.headers
    assert head.content == b""
    for name in ("content-type", "content-length", "cache-control", "vary"):
        assert head.headers[name] == got.headers[name], name
    mutation = {"query": ops.REGISTER, "variables": json.dumps({"input": {"name": "Mallory"}})}
    assert client.head("/graphql", params=mutation).status_code == 405  # as over GET
    page = client.head("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


def test_a_browser_get_without_a_query_still_gets_the_playground(client: httpx.Client) -> None:
    response = client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


# Cache headers


def test_an_anonymous_get_answer_may_be_kept_by_a_cdn_but_not_by_the_browser(
    client: httpx.Client,
) -> None:
    response = get(client, {"query": "{ recentPosts(first: 1) { totalCount } }"})
    assert response.headers["cache-control"] == "public, max-age=0, s-maxage=5"
    vary = {part.strip().lower() for part in response.headers["vary"].split(",")}
    assert {"accept", "authorization", "x-consistent-with", "origin"} <= vary


def test_personal_erroneous_and_post_answers_are_never_cached(
    client: httpx.Client, server: ServerProcess
) -> None:
    token = http_api(server).register("Ann").token
    query = {"query": "{ viewer { name } }"}
    personal = get(client, query, authorization=f"Bearer {token}")
    assert personal.json()["data"]["viewer"]["name"] == "Ann"
    assert personal.headers["cache-control"] == "private, no-store"
    failed = get(client, {"query": "{ noSuchField }"})
    assert failed.headers["cache-control"] == "no-store"
    posted = post(client, query, APOLLO_ACCEPT, authorization=f"Bearer {token}")
    assert posted.headers["cache-control"] == "no-store"
    vary = {part.strip().lower() for part in posted.headers["vary"].split(",")}
    assert {"accept", "authorization", "x-consistent-with", "origin"} <= vary
    anonymous = post(client, {"query": "{ __typename }"}, APOLLO_ACCEPT)
    assert anonymous.headers["cache-control"] == "no-store"


# CORS


def test_a_listed_origin_gets_a_preflight_like_starlettes(client: httpx.Client) -> None:
    response = client.options(
        "/graphql",
        headers={
            "origin": APP_ORIGIN,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type, x-consistent-with, "
            "x-apollo-operation-name",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert {"authorization", "content-type", "x-consistent-with", "x-apollo-operation-name"} <= set(
        allowed.split(", ")
    )
    assert "access-control-allow-credentials" not in response.headers


def test_an_origin_listed_with_capitals_or_its_default_port_is_the_one_browsers_send(
    client: httpx.Client,
) -> None:
    """Listed as `https://App.Example.com:443`, it never matched the `https://app.example.com`
    a browser sends: refused with nothing in the logs (an outside probe)."""
    response = client.options(
        "/graphql",
        headers={"origin": "https://app.example.com", "access-control-request-method": "POST"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"


def preflight(client: httpx.Client, headers: str) -> httpx.Response:
    """What a browser asks before a POST that sends `headers`."""
    return client.options(
        "/graphql",
        headers={
            "origin": APP_ORIGIN,
            "access-control-request-method": "POST",
            "access-control-request-headers": headers,
        },
    )


@pytest.mark.parametrize(
    "headers",
    [
        "content-type,traceparent",  # OpenTelemetry's fetch instrumentation
        "content-type,traceparent,tracestate",
        "authorization,baggage,content-type,sentry-trace",  # Sentry's
        "b3,content-type,x-datadog-trace-id",  # INKWELL_CORS_HEADERS adds these
    ],
)
def test_a_listed_origin_may_send_tracing_headers(client: httpx.Client, headers: str) -> None:
    """Any header outside the list fails the preflight, and with it the request: tracing
    that adds its headers to every fetch took the app's whole API down."""
    response = preflight(client, headers)
    assert response.status_code == 200, response.text
    allowed = set(response.headers["access-control-allow-headers"].lower().split(", "))
    assert set(headers.split(",")) <= allowed


def test_a_header_neither_allowed_nor_configured_fails_the_preflight(
    client: httpx.Client,
) -> None:
    response = preflight(client, "content-type,x-custom-header")
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error == {"message": "Disallowed CORS headers", "extensions": {"code": "BAD_REQUEST"}}


def test_a_listed_origins_get_names_each_vary_header_once(client: httpx.Client) -> None:
    query = {"query": "{ __typename }"}
    response = get(client, query, origin=APP_ORIGIN)
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    names = [name.strip().lower() for name in response.headers["vary"].split(",")]
    assert sorted(names) == sorted(set(names)) and "origin" in names, names


def test_a_listed_origin_can_read_responses(client: httpx.Client) -> None:
    response = post(client, {"query": "{ __typename }"}, APOLLO_ACCEPT, origin=APP_ORIGIN)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    exposed = response.headers["access-control-expose-headers"].lower().split(", ")
    assert {"x-request-id", "retry-after", "allow", "www-authenticate"} <= set(exposed)


@pytest.mark.parametrize("origin", ["http://evil.example", "http://localhost:5174", "null"])
def test_nothing_changes_for_other_origins(client: httpx.Client, origin: str) -> None:
    preflight = client.options(
        "/graphql", headers={"origin": origin, "access-control-request-method": "POST"}
    )
    assert preflight.status_code == 405  # as without CORS: /graphql answers GET and POST
    assert not any(name.startswith("access-control-") for name in preflight.headers)
    response = post(client, {"query": "{ __typename }"}, None, origin=origin)
    assert response.status_code == 200
    assert not any(name.startswith("access-control-") for name in response.headers)


def test_a_preflight_cors_refuses_is_a_coded_graphql_response(client: httpx.Client) -> None:
    """Starlette's refusal was text/plain: "Disallowed CORS method"."""
    response = client.options(
        "/graphql", headers={"origin": APP_ORIGIN, "access-control-request-method": "PUT"}
    )
    assert response.status_code == 400
    assert media_type(response) == "application/json"
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert error["message"] == "Disallowed CORS method"


def test_options_asterisk_is_a_coded_not_found(server: ServerProcess) -> None:
    """`OPTIONS *` asks about the server as a whole: it got a text/plain 404."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(b"OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404 "), head
    assert b"\r\ncontent-type: application/json\r\n" in head.lower()
    assert json.loads(body)["errors"][0]["extensions"] == {"code": "NOT_FOUND"}


def test_the_websocket_origin_check_accepts_the_same_list(server: ServerProcess) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect
    from websockets.typing import Origin, Subprotocol

    protocols = [Subprotocol("graphql-transport-ws")]

    url = server.url.replace("http", "ws") + "/graphql"
    with connect(url, origin=Origin(APP_ORIGIN), subprotocols=protocols) as socket:
        socket.send(json.dumps({"type": "connection_init"}))
        assert json.loads(socket.recv(timeout=10))["type"] == "connection_ack"
    with connect(url, origin=Origin("https://app.example.com"), subprotocols=protocols) as socket:
        socket.send(json.dumps({"type": "connection_init"}))
        assert json.loads(socket.recv(timeout=10))["type"] == "connection_ack"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, origin=Origin("http://evil.example"), subprotocols=protocols)
    # Coded, as every refusal (it was an empty text/plain 403).
    assert refused.value.response.status_code == 403
    (error,) = json.loads(refused.value.response.body)["errors"]
    assert error["extensions"] == {"code": "FORBIDDEN"}


def test_a_subscription_over_http_is_refused_without_pointing_at_post(
    client: httpx.Client,
) -> None:
    subscription = {"query": "subscription { projections { name } }"}
    over_get = get(client, subscription)
    assert over_get.status_code == 400
    over_post = post(client, subscription, GRAPHQL_RESPONSE)
    assert over_post.status_code == 400
    assert "subscriptions" in over_post.json()["errors"][0]["message"]
    assert post(client, subscription, "application/json").status_code == 200  # a request error


def test_a_trailing_slash_is_not_redirected_to_a_host_the_client_names(
    client: httpx.Client,
) -> None:
    # localhost: another name is refused before routing (tests/security/test_allowed_hosts.py).
    response = post(client, {"query": "{ __typename }"}, None, host="localhost")
    assert response.status_code == 200  # /graphql itself
    slashed = client.post(
        "/graphql/", json={"query": "{ __typename }"}, headers={"host": "localhost"}
    )
    assert slashed.status_code == 404 and "location" not in slashed.headers
