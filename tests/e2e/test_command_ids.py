"""Command ids as an attacker sees them: a replay answers only its sender, reveals nothing
to anyone else, and duplicates racing each other all get the one stored outcome.

Every test talks HTTP to real `serve` processes. Strangers connect from another
loopback address (127.0.0.2), as a second machine would.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from harness.server_process import ServerProcess
from tests.support import log
from tests.support import operations as ops
from tests.support.api import Api

STRANGER_ADDRESS = "127.0.0.2"
REGISTER = """mutation($i: RegisterUserInput!) {
  registerUser(input: $i) { token position user { id } } }"""


@pytest.fixture
def database(database_url: str) -> str:
    return database_url


@pytest.fixture
def env(database: str, redis_url: str, prefix: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": database,
        "REDIS_URL": redis_url,
        "INKWELL_PREFIX": prefix,
        "INKWELL_DATA_DIR": str(tmp_path / "data"),
        "INKWELL_SECRET": "the-command-id-tests-own-signing-key",
    }


@pytest.fixture
def server(env: dict[str, str], tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(env, tmp_path) as running:
        yield running


def client(server: ServerProcess, address: str = "127.0.0.1") -> Api:
    transport = httpx.HTTPTransport(local_address=address)
    return Api(httpx.Client(base_url=server.url, timeout=30, transport=transport))


def register(api: Api, name: str, command_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = api.ok(REGISTER, {"i": {"name": name, "commandId": command_id}})
    registered: dict[str, Any] = answer["registerUser"]
    return registered


def test_a_stranger_replaying_a_registration_gets_a_user_of_his_own_not_the_victims(
    server: ServerProcess, database: str
) -> None:
    """The takeover of issue 12: name and commandId of a registration, sent again from
    elsewhere, returned the victim's bearer token."""
    victim, stranger = client(server), client(server, STRANGER_ADDRESS)
    command_id = str(uuid.uuid4())
    original = register(victim, "Victim Name", command_id)

    stolen = register(stranger, "Victim Name", command_id)
    assert stolen["user"]["id"] != original["user"]["id"]
    assert stolen["token"] != original["token"]
    seen = {"X-Consistent-With": stolen["position"]}
    viewer = victim.ok(ops.VIEWER, token=stolen["token"], headers=seen)["viewer"]
    assert viewer["id"] == stolen["user"]["id"]

    head = log.head(database)
    retry = register(victim, "Victim Name", command_id)  # the sender's own retry replays
    assert proven(victim, retry) == proven(victim, original)
    assert log.head(database) == head


def test_a_commandid_used_by_someone_else_is_neither_revealed_nor_reserved(
    server: ServerProcess,
) -> None:
    """No "already used for a different command" oracle, and a stranger who uses an id
    first does not keep its owner from using it."""
    owner, stranger = client(server), client(server, STRANGER_ADDRESS)
    command_id = str(uuid.uuid4())
    squatter = register(stranger, "Eve", command_id)  # first, with another payload
    mine = register(owner, "Ann", command_id)
    assert mine["user"]["id"] != squatter["user"]["id"]
    other_payload = register(stranger, "Mallory", command_id)
    assert other_payload["user"]["id"] not in (mine["user"]["id"], squatter["user"]["id"])


def test_a_signed_in_callers_command_ids_are_their_own(server: ServerProcess) -> None:
    api = client(server)
    ann, bob = api.register("Ann"), api.register("Bob")
    create = {"i": {"title": "Mine", "content": "Text.", "commandId": "post-1"}}
    query = "mutation($i: CreatePostInput!) { createPost(input: $i) { position post { id } } }"
    anns = api.ok(query, create, token=ann.token)["createPost"]
    bobs = api.ok(query, create, token=bob.token)["createPost"]
    assert bobs["post"]["id"] != anns["post"]["id"]
    assert api.ok(query, create, token=ann.token)["createPost"] == anns
    assert api.ok(query, create, token=bob.token)["createPost"] == bobs
    # Reusing one's own id for another command is the caller's mistake, told to the caller.
    other = {"i": {"title": "Other", "content": "Text.", "commandId": "post-1"}}
    error = api.error(query, other, token=bob.token)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


GUESSABLE = (
    "reg-1",
    "1",
    str(uuid.uuid1()),  # time-based: mostly guessable
    "00000000-0000-0000-0000-000000000000",
    str(uuid.uuid4()).replace("-", ""),
    str(uuid.uuid4()) + "x",
)


def test_an_anonymous_commandid_must_be_a_random_uuid(server: ServerProcess, database: str) -> None:
    api = client(server)
    head = log.head(database)
    for command_id in GUESSABLE:
        error = api.error(REGISTER, {"i": {"name": "Ann", "commandId": command_id}})
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "commandId"}, command_id
    assert log.head(database) == head


# What one-line text may not hold (domain/rules.py): on PostgreSQL, NUL in the commands
# table's key raised psycopg's DataError, an INTERNAL_SERVER_ERROR and a traceback.
UNSAFE_COMMAND_IDS = (
    "a\x00b",
    "\x00",
    "\x1b[2J",
    "a\x7fb",
    "a\nb",
    "a\u202eb",
    "a\uffffb",
    "a\U000e0041",
)


def test_a_signed_in_commandid_holds_no_control_characters_on_either_database(
    server: ServerProcess, database: str
) -> None:
    api = client(server)
    ann = api.register("Ann")
    head = log.head(database)
    attempts = [
        (ops.CREATE_POST_POSITION_ONLY, {"title": "t", "content": "c"}),
        (ops.UPDATE_PROFILE, {"bio": "b"}),
        (ops.PUBLISH_POST, {"postId": str(uuid.uuid4())}),
    ]
    for command_id in UNSAFE_COMMAND_IDS:
        for query, fields in attempts:
            variables = {"input": {**fields, "commandId": command_id}}
            error = api.error(query, variables, token=ann.token)
            expected = {"code": "BAD_USER_INPUT", "field": "commandId"}
            assert error["extensions"] == expected, (command_id, query)
    assert log.head(database) == head
    assert "Traceback" not in server.log.read_text()
    # Any other 1-200 characters still do, spaces and emoji included.
    for command_id in ("abc ", "\U0001f600" * 200, "ключ"):
        fields = {"title": "t", "content": "c", "commandId": command_id}
        api.ok(ops.CREATE_POST_POSITION_ONLY, {"input": fields}, token=ann.token)


# Issue 8 item 5: two identical requests with one commandId at the same moment.

PAIRS = 6
PUBLISH = "mutation($i: PostCommandInput!) { publishPost(input: $i) { position } }"
ARCHIVE = "mutation($i: PostCommandInput!) { archivePost(input: $i) { position } }"
LIKE = "mutation($i: PostCommandInput!) { likePost(input: $i) { position } }"
CREATE = "mutation($i: CreatePostInput!) { createPost(input: $i) { position } }"
COMMENT = "mutation($i: AddCommentInput!) { addComment(input: $i) { position commentId } }"


async def twins(
    urls: tuple[str, str], query: str, variables: dict[str, Any], token: str | None
) -> list[dict[str, Any]]:
    """The same request on two connections (to two servers, when given two), at once."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx.AsyncClient(base_url=urls[0], timeout=60) as one,
        httpx.AsyncClient(base_url=urls[1], timeout=60) as two,
    ):
        body = {"query": query, "variables": variables}
        answers = await asyncio.gather(
            one.post("/graphql", json=body, headers=headers),
            two.post("/graphql", json=body, headers=headers),
        )
    return [answer.json() for answer in answers]


def race_every_kind(api: Api, servers: tuple[str, str]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Every kind of command, PAIRS times: half of the twins reach one process (where they
    meet in memory), the other half one process each (where only the database joins them)."""
    author = api.register("Author")
    readers = [api.register(f"Reader {i}") for i in range(PAIRS)]
    drafts = [api.create_post(author, f"Draft {i}")["id"] for i in range(3 * PAIRS)]
    published = api.published_post(author, "Popular")["id"]
    raced: list[tuple[str, list[dict[str, Any]]]] = []

    def race(kind: str, query: str, fields: dict[str, Any], token: str | None) -> None:
        variables = {"i": {**fields, "commandId": str(uuid.uuid4())}}
        raced.append((kind, asyncio.run(twins(urls, query, variables, token))))

    for i in range(PAIRS):
        urls = servers if i % 2 else (servers[0], servers[0])
        race("publish", PUBLISH, {"postId": drafts[i]}, author.token)
        guarded = {"postId": drafts[PAIRS + i], "expectedVersion": 1}
        race("publish v1", PUBLISH, guarded, author.token)
        race("archive", ARCHIVE, {"postId": drafts[2 * PAIRS + i]}, author.token)
        race("like", LIKE, {"postId": published}, readers[i].token)
        race("comment", COMMENT, {"postId": published, "body": f"Hi {i}"}, readers[i].token)
        race("create", CREATE, {"title": f"T{i}", "content": "C"}, author.token)
        race("register", REGISTER, {"name": f"Twin {i}"}, None)
    return raced


def disagreements(api: Api, raced: list[tuple[str, list[dict[str, Any]]]]) -> list[Any]:
    """Pairs whose answers differ. A registration's token is issued per answer (its expiry
    counts from then), so twins agree when both tokens prove the one stored user."""
    return [
        (kind, answers)
        for kind, answers in raced
        if any("errors" in answer for answer in answers)
        or [outcome(api, answer) for answer in answers].count(outcome(api, answers[0])) != 2
    ]


def outcome(api: Api, answer: dict[str, Any]) -> Any:
    if "registerUser" not in answer["data"]:
        return answer
    return proven(api, answer["data"]["registerUser"])


def proven(api: Api, registration: dict[str, Any]) -> Any:
    """A registration's answer with its token replaced by the user the token proves."""
    registered = dict(registration)
    seen = {"X-Consistent-With": registered["position"]}
    viewer = api.ok(ops.VIEWER, token=registered.pop("token"), headers=seen)["viewer"]
    return registered, viewer


def test_concurrent_duplicates_of_one_commandid_get_the_same_stored_outcome(
    server: ServerProcess, env: dict[str, str], tmp_path: Path
) -> None:
    with ServerProcess(env, tmp_path) as second:
        raced = race_every_kind(client(server), (server.url, second.url))
    assert disagreements(client(server), raced) == []
