"""Odd input from the open internet, against a real server: every answer is a coded
GraphQL error, nothing crashes, nothing is stored, nothing reaches a Redis key name,
nothing is echoed whole, and nothing forges a log line."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import redis
import websockets
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from harness.server_process import ServerProcess
from tests.support import log
from tests.support import operations as ops
from tests.support.api import Api, http_api


@pytest.fixture(scope="module")
def server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the module (each start costs seconds): every test below only adds
    its own users and posts, and none depends on what the others stored."""
    directory = tmp_path_factory.mktemp("odd-input")
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    env = {
        "DATABASE_URL": f"sqlite:///{directory / 'events.db'}",
        "REDIS_URL": redis_url,
        "INKWELL_PREFIX": prefix,
        "INKWELL_DATA_DIR": str(directory / "data"),
    }
    with ServerProcess(env, directory) as running:
        yield running
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        client.delete(key)
    client.close()


@pytest.fixture
def database(server: ServerProcess) -> str:
    return server.env["DATABASE_URL"]


def post(server: ServerProcess, body: bytes, **headers: str | bytes) -> httpx.Response:
    return httpx.post(
        f"{server.url}/graphql",
        content=body,
        headers={
            b"content-type": b"application/json",
            **{k.encode(): v if isinstance(v, bytes) else v.encode() for k, v in headers.items()},
        },
        timeout=30,
    )


@pytest.mark.parametrize("body", [b"null", b"5", b"true", b'"str"', b"1.5e308"])
def test_a_body_that_is_not_a_json_object_is_a_400_with_a_graphql_error(
    server: ServerProcess, body: bytes
) -> None:
    response = post(server, body)
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "Traceback" not in response.text


def test_a_non_ascii_bearer_token_is_just_not_valid_over_http(server: ServerProcess) -> None:
    query = json.dumps({"query": "{ viewer { id } }"}).encode()
    response = post(server, query, authorization="Bearer t\u00f6ken".encode())
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


def test_a_non_ascii_bearer_token_closes_a_websocket_with_4403(server: ServerProcess) -> None:
    async def connect() -> int | None:
        url = server.url.replace("http", "ws", 1) + "/graphql"
        async with websockets.connect(
            url, subprotocols=[Subprotocol("graphql-transport-ws")]
        ) as ws:
            init = {"type": "connection_init", "payload": {"Authorization": "Bearer t\u00f6ken"}}
            await ws.send(json.dumps(init))
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            return closed.value.rcvd.code if closed.value.rcvd else None

    assert asyncio.run(connect()) == 4403


SEARCH = "query($t: String!) { searchPosts(query: $t) { totalCount } }"
TAGS = """mutation($t: [String!]) {
  createPost(input: {title: "a", content: "b", tags: $t}) { position } }"""


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (SEARCH, {"t": {"t": 5}}),
        (SEARCH, {"t": [1, 2]}),
        (SEARCH, {"t": None}),
        (TAGS, {"t": json.loads("[" * 500 + "]" * 500)}),
        ("query($f: Int) { recentPosts(first: $f) { totalCount } }", {"f": 2**40}),
        ("query($f: Int) { recentPosts(first: $f) { totalCount } }", {"f": "ten"}),
    ],
)
def test_a_variable_of_the_wrong_shape_is_bad_user_input_and_logs_no_traceback(
    server: ServerProcess, query: str, variables: dict[str, Any]
) -> None:
    before = server.log.read_text()
    error = http_api(server).error(query, variables)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": f"${next(iter(variables))}"}
    assert "Traceback" not in server.log.read_text()[len(before) :]


def test_ids_never_reach_a_redis_key(server: ServerProcess, database: str) -> None:
    """`postsByAuthor(authorId: "<id>:own")` counted an author's drafts and
    `post(id: "<id>:comment-ids")` hit a WRONGTYPE error."""
    api = http_api(server)
    ann = api.register("Ann")
    draft = api.create_post(ann, "Secret draft")
    published = api.published_post(ann, "Public")
    api.ok(ops.ADD_COMMENT, {"input": {"postId": published["id"], "body": "Hi"}}, token=ann.token)
    head = {"X-Consistent-With": str(log.head(database))}
    attempts = [
        ("query($a: ID!) { postsByAuthor(authorId: $a) { totalCount } }", f"{ann.id}:own"),
        ("query($a: ID!) { post(id: $a) { id } }", f"{published['id']}:comment-ids"),
        ("query($a: ID!) { post(id: $a) { id } }", f"{published['id']}:likers"),
        ("query($a: ID!) { user(id: $a) { id } }", f"{ann.id}*"),
        ("query($a: ID!) { post(id: $a) { id } }", draft["id"] + "\n"),
    ]
    for query, hostile in attempts:
        error = api.error(query, {"a": hostile}, headers=head)
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (query, hostile)
    for mutation, field in [(ops.LIKE_POST, "postId"), (ops.PUBLISH_POST, "postId")]:
        refused = api.error(mutation, {"input": {"postId": f"{draft['id']}:x"}}, token=ann.token)
        assert refused["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    deleting = {"input": {"commentId": "../x"}}
    refused = api.error(ops.DELETE_COMMENT, deleting, token=ann.token)
    assert refused["extensions"] == {"code": "BAD_USER_INPUT", "field": "commentId"}


# A mutation, its input, the token it is sent with, and the field its refusal names.
Attempt = tuple[str, dict[str, Any], str | None, str]


def each_refused(api: Api, database: str, attempts: list[Attempt], kind: str) -> None:
    """Each attempt is BAD_USER_INPUT naming its field, and none appends to the log."""
    head = log.head(database)
    for operation, fields, token, field in attempts:
        error = api.error(operation, {"input": fields}, token=token)
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, (kind, field)
    assert log.head(database) == head


HOSTILE_TEXT = {
    "NUL": "a\x00b",
    "bidi override": "evil\u202etxt.exe",
    "bidi isolate": "a\u2066b",
    "ANSI escape": "\x1b[31mred\x1b[0m",
    "C1 control": "a\x9bb",
    "bell": "a\x07b",
    "noncharacter": "a\uffffb",
    "tag characters (hidden text)": "a\U000e0041b",
}


@pytest.mark.parametrize("kind", sorted(HOSTILE_TEXT))
def test_control_characters_are_refused_in_every_text_field(
    server: ServerProcess, database: str, kind: str
) -> None:
    api = http_api(server)
    ann = api.register("Ann")
    post = api.published_post(ann)
    bad = HOSTILE_TEXT[kind]
    attempts: list[Attempt] = [
        (ops.REGISTER, {"name": bad}, None, "name"),
        (ops.UPDATE_PROFILE, {"name": bad}, ann.token, "name"),
        (ops.UPDATE_PROFILE, {"bio": bad}, ann.token, "bio"),
        (ops.CREATE_POST, {"title": bad, "content": "ok"}, ann.token, "title"),
        (ops.CREATE_POST, {"title": "ok", "content": bad}, ann.token, "content"),
        (ops.CREATE_POST, {"title": "ok", "content": "ok", "tags": [bad]}, ann.token, "tags"),
        (ops.ADD_COMMENT, {"postId": post["id"], "body": bad}, ann.token, "body"),
    ]
    each_refused(api, database, attempts, kind)


INVISIBLE_TEXT = {
    "zero-width spaces": "\u200b\u200b",
    "byte order mark": "\ufeff",
    "tag characters": "\U000e0041\U000e0042",
    "Hangul filler": "\u3164",
}


@pytest.mark.parametrize("kind", sorted(INVISIBLE_TEXT))
def test_a_name_title_or_comment_must_have_a_visible_character(
    server: ServerProcess, database: str, kind: str
) -> None:
    api = http_api(server)
    ann = api.register("Ann")
    post = api.published_post(ann)
    blank = INVISIBLE_TEXT[kind]
    attempts: list[Attempt] = [
        (ops.REGISTER, {"name": blank}, None, "name"),
        (ops.UPDATE_PROFILE, {"name": blank}, ann.token, "name"),
        (ops.CREATE_POST, {"title": blank, "content": "ok"}, ann.token, "title"),
        (
            ops.UPDATE_POST,
            {"postId": post["id"], "expectedVersion": post["version"], "title": blank},
            ann.token,
            "title",
        ),
        (ops.ADD_COMMENT, {"postId": post["id"], "body": blank}, ann.token, "body"),
    ]
    each_refused(api, database, attempts, kind)


def test_a_name_beside_another_holds_no_invisible_character(
    server: ServerProcess, database: str
) -> None:
    api = http_api(server)
    api.register("Alice")
    head = log.head(database)
    for lookalike in ("Alice\u200b", "Alice\u2060", "Ali\u00adce", "Alice\u200f", "Alice\u3164"):
        error = api.error(ops.REGISTER, {"input": {"name": lookalike}})
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "name"}, lookalike
    assert log.head(database) == head


WALES = "\U0001f3f4\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f"


def test_joiners_marks_and_flags_that_real_text_needs_are_kept(server: ServerProcess) -> None:
    api = http_api(server)
    names = ["Ada \U0001f469\u200d\U0001f4bb", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"]
    for name in names:
        data = api.ok(ops.REGISTER, {"input": {"name": name}})
        assert data["registerUser"]["user"]["name"] == name
    ann = api.register("Ann")
    title = f"A week in Wales {WALES}"
    content = "\u05e9\u05dc\u05d5\u05dd world\u200f!\n\u0645\u0631\u062d\u0628\u0627 \u200f(1)"
    post = api.create_post(ann, title, content=content)
    assert (post["title"], post["content"]) == (title, content)


def test_multi_line_text_keeps_its_newlines_and_tabs(server: ServerProcess) -> None:
    api = http_api(server)
    ann = api.register("Ann", bio="line one\n\tline two")
    post = api.create_post(ann, "Title", content="para one\r\n\npara two\twith a tab")
    assert post["content"] == "para one\r\n\npara two\twith a tab"
    assert api.ok(ops.USER, {"id": ann.id})["user"]["name"] == "Ann"


@pytest.mark.parametrize(
    "url",
    [
        'http://x"onerror=alert(1)',
        "http://x'onerror=alert(1)",
        "https://example.com/<script>",
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "//example.com/a.png",
        "http://",
        "https://exa mple.com/",
        "https://example.com/\u202e",
    ],
)
def test_an_avatar_url_must_be_a_plain_http_url(
    server: ServerProcess, database: str, url: str
) -> None:
    api = http_api(server)
    ann = api.register("Ann")
    head = log.head(database)
    attempts = [
        (ops.REGISTER, {"name": "Bob", "avatarUrl": url}, None),
        (ops.UPDATE_PROFILE, {"avatarUrl": url}, ann.token),
    ]
    for operation, fields, token in attempts:
        error = api.error(operation, {"input": fields}, token=token)
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "avatarUrl"}
    assert log.head(database) == head


def test_a_plain_avatar_url_is_kept(server: ServerProcess) -> None:
    api = http_api(server)
    url = "https://cdn.example.com/a/b.png?size=64&v=2#x"
    data = api.ok(ops.REGISTER, {"input": {"name": "Ann", "avatarUrl": url}})
    assert data["registerUser"]["user"]["avatarUrl"] == url


def test_a_huge_cursor_is_not_echoed_back_whole(server: ServerProcess) -> None:
    cursor = "A" * 100_000
    response = httpx.post(
        f"{server.url}/graphql",
        json={"query": ops.RECENT, "variables": {"first": 5, "after": cursor}},
        timeout=30,
    )
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert len(response.content) < 1_000


def test_a_huge_operation_name_is_not_echoed_back_whole(server: ServerProcess) -> None:
    """A 500,000-character operationName naming no operation came back whole in the
    error, a 500,092-byte answer."""
    name = "x" * 500_000
    response = httpx.post(
        f"{server.url}/graphql",
        json={"query": "{ __typename }", "operationName": name},
        timeout=30,
    )
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert error["message"] == f'Unknown operation named "{"x" * 40}..." (500000 characters).'
    assert len(response.content) < 1_000


def test_a_huge_tag_is_not_echoed_back_whole(server: ServerProcess) -> None:
    api = http_api(server)
    ann = api.register("Ann")
    fields = {"title": "t", "content": "c", "tags": ["x" * 50_000]}
    error = api.error(ops.CREATE_POST, {"input": fields}, token=ann.token)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "tags"}
    assert len(error["message"]) < 200


FORGED = "\n2026-01-01 00:00:00,000 ERROR   inkwell: FORGED LINE"


@pytest.mark.parametrize("style", ["text", "json"])
def test_a_newline_from_the_client_forges_no_log_line(
    server_env: dict[str, str], tmp_path: Path, style: str
) -> None:
    """A commandId, which the command log writes, may hold no control character at all
    now; a path the client chose is logged by the request log, escaped."""
    with ServerProcess({**server_env, "INKWELL_LOG_FORMAT": style}, tmp_path) as server:
        api = http_api(server)
        ann = api.register("Ann")
        fields = {"title": "t", "content": "c", "commandId": "abc" + FORGED + "\x1b[2J"}
        refused = api.error(ops.CREATE_POST_POSITION_ONLY, {"input": fields}, token=ann.token)
        assert refused["extensions"] == {"code": "BAD_USER_INPUT", "field": "commandId"}
        httpx.get(f"{server.url}/x%0A2026-01-01%20FORGED%20PATH%1b[2J", timeout=30)
    written = server.log.read_text()  # once stopped: the request's line is written after it
    lines = written.splitlines()
    assert not [line for line in lines if re.match(r"2026-01-01 .*FORGED", line)]
    assert "\x1b" not in written
    assert any("FORGED PATH" in line for line in lines)  # it was logged, escaped
    if style == "json":
        assert all(json.loads(line) for line in lines if line.startswith("{"))


def test_ids_are_checked_before_redis_on_subscriptions(server: ServerProcess) -> None:
    async def subscribe() -> dict[str, Any]:
        url = server.url.replace("http", "ws", 1) + "/graphql"
        async with websockets.connect(
            url, subprotocols=[Subprotocol("graphql-transport-ws")]
        ) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            await ws.recv()
            query = "subscription($id: ID!) { post(id: $id) { id } }"
            start = {"query": query, "variables": {"id": f"{uuid.uuid4()}:comment-ids"}}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": start}))
            answer: dict[str, Any] = json.loads(await ws.recv())
            return answer

    answer = asyncio.run(subscribe())
    (error,) = answer["payload"]["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "id"}


NINES = "9" * 4_301  # past Python's guard on int(): graphql-core's int() raised ValueError
LONG_LITERALS = [
    f"{{ recentPosts(first: {NINES}) {{ totalCount }} }}",
    f"query($f: Int = {NINES}) {{ recentPosts(first: $f) {{ totalCount }} }}",
    f"{{ popularPosts(first: {NINES}) {{ id }} }}",
]
LONG_VERSION = (
    f'mutation {{ publishPost(input: {{postId: "{uuid.uuid4()}", expectedVersion: {NINES}}}) '
    "{ position } }"
)


def refused_for_its_long_number(error: dict[str, Any]) -> None:
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert "is longer than any value this API takes" in error["message"]
    assert len(error["message"]) < 200


def test_a_number_literal_past_pythons_digit_limit_is_a_validation_error_over_http(
    server: ServerProcess,
) -> None:
    """It was INTERNAL_SERVER_ERROR with an ERROR traceback in the log per request."""
    before = server.log.read_text()
    for query in [*LONG_LITERALS, LONG_VERSION]:
        response = httpx.post(f"{server.url}/graphql", json={"query": query}, timeout=30)
        (error,) = response.json()["errors"]
        refused_for_its_long_number(error)
    for query in LONG_LITERALS:
        response = httpx.get(
            f"{server.url}/graphql",
            params={"query": query},
            headers={"accept": "application/json"},
            timeout=30,
        )
        (error,) = response.json()["errors"]
        refused_for_its_long_number(error)
    logged = server.log.read_text()[len(before) :]
    assert "Traceback" not in logged and "ValueError" not in logged


@pytest.mark.parametrize(
    ("protocol", "start"), [("graphql-transport-ws", "subscribe"), ("graphql-ws", "start")]
)
def test_a_number_literal_past_pythons_digit_limit_is_a_validation_error_over_websockets(
    server: ServerProcess, protocol: str, start: str
) -> None:
    async def send(query: str) -> dict[str, Any]:
        url = server.url.replace("http", "ws", 1) + "/graphql"
        async with websockets.connect(url, subprotocols=[Subprotocol(protocol)]) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            await ws.recv()
            await ws.send(json.dumps({"id": "1", "type": start, "payload": {"query": query}}))
            answer: dict[str, Any] = json.loads(await ws.recv())
            return answer

    before = server.log.read_text()
    for query in LONG_LITERALS:
        answer = asyncio.run(send(query))
        assert answer["type"] == "error"  # graphql-ws sends the one error, the other a list
        payload = answer["payload"]
        refused_for_its_long_number(payload if protocol == "graphql-ws" else payload[0])
    logged = server.log.read_text()[len(before) :]
    assert "Traceback" not in logged and "ValueError" not in logged


def refused_for_its_many_values(error: dict[str, Any], variable: str) -> None:
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": f"${variable}",
        "maxValues": 1000,
    }, error
    assert "more than 1,000 values" in error["message"]


def test_variables_with_more_values_than_any_operation_takes_are_refused_unread(
    server: ServerProcess,
) -> None:
    """400,000 ids for `nodes` (800 KB, under the body limit) were all converted, 1.2-1.5 s
    of the event loop, before `nodes` refused more than 100; 200,000 tags on a createPost
    with no token, before UNAUTHENTICATED; an input of 50,000 unknown fields; 21,000 ids in
    a GET's URL (an outside probe). Each is refused before graphql-core reads it."""
    api = http_api(server)
    nodes = "query($i: [ID!]!) { nodes(ids: $i) { id } }"
    create = "mutation($t: [String!]) { createPost(input: {title: \"x\", content: \"y\", tags: $t}) { postId } }"  # noqa: E501
    typed = "mutation($input: CreatePostInput!) { createPost(input: $input) { postId } }"
    unknown_fields = {"title": "x", "content": "y", **{f"k{n}": 1 for n in range(50_000)}}
    for query, variables, refused in (
        (nodes, {"i": [1] * 400_000}, "i"),  # IDs may be sent as numbers
        (create, {"t": ["a"] * 200_000}, "t"),
        (typed, {"input": unknown_fields}, "input"),
        (nodes, {"first": list(range(600)), "i": [str(uuid.uuid4())] * 600}, "i"),
    ):
        refused_for_its_many_values(api.error(query, variables), refused)
    answer = httpx.get(
        f"{server.url}/graphql",
        params={"query": nodes, "variables": json.dumps({"i": [1] * 1_500})},
        headers={"accept": "application/json"},
        timeout=30,
    )
    (error,) = answer.json()["errors"]
    refused_for_its_many_values(error, "i")
    # Within the limit, the field's own rule answers as before.
    many = api.error(nodes, {"i": [str(uuid.uuid4())] * 101})
    assert many["extensions"] == {"code": "BAD_USER_INPUT", "field": "ids"}
    assert api.ok(nodes, {"i": [str(uuid.uuid4())] * 100}) == {"nodes": [None] * 100}


@pytest.mark.parametrize(
    ("protocol", "start"), [("graphql-transport-ws", "subscribe"), ("graphql-ws", "start")]
)
def test_variables_with_more_values_than_any_operation_takes_are_refused_over_websockets(
    server: ServerProcess, protocol: str, start: str
) -> None:
    async def send(payload: dict[str, Any]) -> dict[str, Any]:
        url = server.url.replace("http", "ws", 1) + "/graphql"
        async with websockets.connect(url, subprotocols=[Subprotocol(protocol)]) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            await ws.recv()
            await ws.send(json.dumps({"id": "1", "type": start, "payload": payload}))
            answer: dict[str, Any] = json.loads(await ws.recv())
            return answer

    many: list[Any] = ["x"] * 5_000
    for query, refused in (
        # One the operation does not declare counts too: it was read all the same.
        ("subscription($id: ID!) { post(id: $id) { id } }", "x"),
        ("query($i: [ID!]!) { nodes(ids: $i) { id } }", "i"),
    ):
        variables = {"id": str(uuid.uuid4()), refused: many}
        answer = asyncio.run(send({"query": query, "variables": variables}))
        assert answer["type"] == "error", answer
        errors = answer["payload"]
        refused_for_its_many_values(errors if protocol == "graphql-ws" else errors[0], refused)
