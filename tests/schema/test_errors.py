"""Every error code this API can answer, each with proof that the refusal appended nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any, cast

import pytest
from starlette.testclient import TestClient

from infra.settings import Settings
from tests.support import operations as ops
from tests.support.api import Account, Api
from tests.support.refusals import refused
from tests.support.socket_protocols import EACH_PROTOCOL
from wiring.asgi import create_app


@pytest.fixture
def ann(api: Api) -> Account:
    return api.register("Ann")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"content": "x" * 100_001}, "content"),
        ({"tags": ["no spaces"]}, "tags"),
        ({"tags": [f"t{i}" for i in range(11)]}, "tags"),
        ({"commandId": "x" * 201}, "commandId"),
    ],
)
def test_invalid_post_input_is_bad_user_input(
    api: Api, settings: Settings, ann: Account, fields: dict[str, Any], field: str
) -> None:
    post_input = {"title": "Fine", "content": "Fine"} | fields
    error = refused(api, settings, ops.CREATE_POST, {"input": post_input}, token=ann.token)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}


def test_an_invalid_avatar_url_is_bad_user_input(
    api: Api, settings: Settings, ann: Account
) -> None:
    error = refused(
        api, settings, ops.UPDATE_PROFILE, {"input": {"avatarUrl": "ftp://x"}}, token=ann.token
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("variables", [{"first": 101}, {"first": -1}, {"after": "not-a-cursor"}])
def test_bad_paging_arguments_are_bad_user_input(api: Api, variables: dict[str, Any]) -> None:
    error = api.error(ops.RECENT, variables)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


def archive_and_page(arguments: str, declarations: str = "") -> str:
    """archivePost whose answer pages the post's comments with `arguments`."""
    return (
        f"mutation($input: PostCommandInput!{declarations}) {{ archivePost(input: $input) "
        f"{{ post {{ status comments({arguments}) {{ totalCount }} }} }} }}"
    )


@pytest.mark.parametrize(
    ("arguments", "variables"),
    [
        ("first: $first", {"first": 500}),
        ("first: $first", {"first": -1}),
        ("after: $after", {"after": "not-a-cursor"}),
        ("last: 101", {}),
        ('before: "%%%"', {}),
        ("first: 2, last: 1", {}),
        ("first: $first, last: 1", {"first": 2}),
        ("first: $first", {"first": 500.0}),  # JSON's 500.0 and 5e2 are the Int 500
        ("last: $last", {"last": 5e2}),
    ],
)
def test_a_bad_page_in_a_mutations_answer_refuses_the_mutation_unrun(
    api: Api, settings: Settings, ann: Account, arguments: str, variables: dict[str, Any]
) -> None:
    """The page is read after the command committed: checked first, or the post would be
    archived under an error."""
    post = api.published_post(ann, "Keep me")
    kinds = {"first": "Int", "last": "Int", "after": "String"}
    declarations = "".join(f", ${name}: {kinds[name]}" for name in variables)
    query = archive_and_page(arguments, declarations)
    command = {"input": {"postId": post["id"]}}
    error = refused(api, settings, query, {**command, **variables}, token=ann.token)
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert api.ok(ops.POST, {"id": post["id"]})["post"]["status"] == "PUBLISHED"
    archived = api.ok(archive_and_page("first: 5"), command, token=ann.token)["archivePost"]
    assert archived["post"]["status"] == "ARCHIVED"


def test_a_bad_page_is_read_with_the_defaults_of_the_operation_run(
    api: Api, settings: Settings, ann: Account
) -> None:
    """Another operation's default for the same variable name had hidden the page: the
    post was archived, and then the answer refused (an outside probe)."""
    post = api.published_post(ann, "Keep me")
    query = (
        archive_and_page("first: $first, last: $last", ", $first: Int = 5, $last: Int").replace(
            "mutation(", "mutation M("
        )
        + " query Q($first: Int = null) { recentPosts(first: $first) { totalCount } }"
    )
    sent = {
        "query": query,
        "operationName": "M",
        "variables": {"input": {"postId": post["id"]}, "last": 1},
    }
    headers = {"Authorization": f"Bearer {ann.token}"}
    body = api.client.post("/graphql", json=sent, headers=headers).json()
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "last"}
    assert body.get("data") is None
    assert api.ok(ops.POST, {"id": post["id"]})["post"]["status"] == "PUBLISHED"


def test_a_command_id_reused_for_a_different_command_is_bad_user_input(
    api: Api, settings: Settings, ann: Account
) -> None:
    api.ok(
        ops.CREATE_POST,
        {"input": {"title": "A", "content": "", "commandId": "c1"}},
        token=ann.token,
    )
    error = refused(
        api,
        settings,
        ops.CREATE_POST,
        {"input": {"title": "B", "content": "", "commandId": "c1"}},
        token=ann.token,
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_mutation_without_a_token_is_unauthenticated(api: Api, settings: Settings) -> None:
    """A token that does not verify is refused before execution, with a 401 of the same
    code: tests/schema/test_bearer_credentials.py."""
    api.register("Ann")
    error = refused(api, settings, ops.CREATE_POST, {"input": {"title": "T", "content": "C"}})
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}


@pytest.mark.parametrize(
    ("operation", "extra"),
    [
        (ops.UPDATE_POST, {"expectedVersion": 1, "title": "Mine now"}),
        (ops.PUBLISH_POST, {}),
        (ops.ARCHIVE_POST, {}),
    ],
)
def test_changing_someone_elses_post_is_forbidden(
    api: Api, settings: Settings, ann: Account, operation: str, extra: dict[str, Any]
) -> None:
    post = api.published_post(ann)
    bob = api.register("Bob")
    error = refused(
        api, settings, operation, {"input": {"postId": post["id"], **extra}}, token=bob.token
    )
    assert error["extensions"] == {"code": "FORBIDDEN"}


@pytest.mark.parametrize(
    ("operation", "extra"),
    [
        (ops.UPDATE_POST, {"expectedVersion": 7, "title": "Mine now"}),
        (ops.PUBLISH_POST, {"expectedVersion": 7}),
        (ops.ARCHIVE_POST, {}),
        (ops.LIKE_POST, {"expectedVersion": 7}),
    ],
)
def test_someone_elses_draft_is_not_found_exactly_like_a_missing_post(
    api: Api, settings: Settings, ann: Account, operation: str, extra: dict[str, Any]
) -> None:
    """Authorization comes before versions: a stranger with a wrong expectedVersion learns
    neither that the draft exists nor its version."""
    draft = api.create_post(ann)
    bob = api.register("Bob")
    answers = [
        refused(api, settings, operation, {"input": {"postId": id, **extra}}, token=bob.token)
        for id in (draft["id"], str(uuid.uuid4()))
    ]
    assert [a["extensions"] for a in answers] == [{"code": "NOT_FOUND"}] * 2
    assert answers[0]["message"].replace(draft["id"], "ID") == answers[1]["message"].replace(
        answers[1]["message"].split()[1], "ID"
    )


def test_a_comment_on_a_post_archived_since_is_not_found_by_a_stranger(
    api: Api, settings: Settings, ann: Account
) -> None:
    """Exactly as a missing comment: FORBIDDEN told a stranger it was still there (an
    outside probe)."""
    post = api.published_post(ann)
    bob, carol = api.register("Bob"), api.register("Carol")
    comment = api.comment(bob, post["id"], "Hi")["comment"]["id"]
    api.ok(ops.ARCHIVE_POST, {"input": {"postId": post["id"]}}, token=ann.token)
    delete = "mutation($input: DeleteCommentInput!) { deleteComment(input: $input) { position } }"
    answers = [
        refused(api, settings, delete, {"input": {"commentId": id}}, token=carol.token)
        for id in (comment, str(uuid.uuid4()))
    ]
    assert [a["extensions"] for a in answers] == [{"code": "NOT_FOUND"}] * 2
    assert answers[0]["message"].replace(comment, "ID") == answers[1]["message"].replace(
        answers[1]["message"].split()[1], "ID"
    )
    assert api.ok(delete, {"input": {"commentId": comment}}, token=bob.token)["deleteComment"]


def test_a_stranger_with_a_wrong_version_on_a_published_post_is_forbidden_not_told_it(
    api: Api, settings: Settings, ann: Account
) -> None:
    post = api.published_post(ann)
    bob = api.register("Bob")
    update = {"postId": post["id"], "expectedVersion": 1, "title": "Mine"}
    error = refused(api, settings, ops.UPDATE_POST, {"input": update}, token=bob.token)
    assert error["extensions"] == {"code": "FORBIDDEN"}


def test_a_command_on_a_missing_post_is_not_found(
    api: Api, settings: Settings, ann: Account
) -> None:
    nothing = {"input": {"postId": str(uuid.uuid4())}}
    error = refused(api, settings, ops.PUBLISH_POST, nothing, token=ann.token)
    assert error["extensions"] == {"code": "NOT_FOUND"}


def test_a_stale_expected_version_is_a_conflict_naming_the_current_one(
    api: Api, settings: Settings, ann: Account
) -> None:
    post = api.publish(ann, api.create_post(ann)["id"])
    assert post["version"] == 2
    update = {"postId": post["id"], "expectedVersion": 1, "title": "Stale"}
    error = refused(api, settings, ops.UPDATE_POST, {"input": update}, token=ann.token)
    assert error["extensions"] == {"code": "CONFLICT", "currentVersion": 2}
    # The post's id as the API gives it (Post.id), not the log's stream (`post-<id>`).
    assert error["message"] == f"post {post['id']} is at version 2, not 1"


def test_an_optional_expected_version_guards_publishing_too(
    api: Api, settings: Settings, ann: Account
) -> None:
    post = api.create_post(ann)
    guard = {"postId": post["id"], "expectedVersion": 5}
    error = refused(api, settings, ops.PUBLISH_POST, {"input": guard}, token=ann.token)
    assert error["extensions"] == {"code": "CONFLICT", "currentVersion": 1}


def test_publishing_a_published_post_breaks_a_business_rule(
    api: Api, settings: Settings, ann: Account
) -> None:
    post = api.published_post(ann)
    error = refused(
        api, settings, ops.PUBLISH_POST, {"input": {"postId": post["id"]}}, token=ann.token
    )
    assert error["extensions"] == {"code": "BUSINESS_RULE", "reason": "ALREADY_PUBLISHED"}


def test_editing_an_archived_post_breaks_a_business_rule(
    api: Api, settings: Settings, ann: Account
) -> None:
    post = api.published_post(ann)
    archived = api.ok(ops.ARCHIVE_POST, {"input": {"postId": post["id"]}}, token=ann.token)
    version = archived["archivePost"]["post"]["version"]
    update = {"postId": post["id"], "expectedVersion": version, "title": "Revived"}
    error = refused(api, settings, ops.UPDATE_POST, {"input": update}, token=ann.token)
    assert error["extensions"] == {"code": "BUSINESS_RULE", "reason": "POST_ARCHIVED"}


@pytest.mark.parametrize(
    ("operation", "given"),
    [
        (ops.UPDATE_POST, {"title": "Hello", "tags": []}),
        (ops.UPDATE_POST, {}),
        (ops.UPDATE_PROFILE, {"name": "Ann"}),
        (ops.UPDATE_PROFILE, {}),
    ],
)
def test_an_edit_that_changes_nothing_breaks_a_business_rule(
    api: Api, settings: Settings, ann: Account, operation: str, given: dict[str, Any]
) -> None:
    """Recorded, it moved the version: another tab's real edit was then a CONFLICT."""
    post = api.published_post(ann)
    edit = {"postId": post["id"], "expectedVersion": post["version"], **given}
    update = edit if operation == ops.UPDATE_POST else given
    error = refused(api, settings, operation, {"input": update}, token=ann.token)
    assert error["extensions"] == {"code": "BUSINESS_RULE", "reason": "NOTHING_CHANGED"}


def test_a_query_past_the_read_models_times_out_with_consistency_timeout(
    settings: Settings,
) -> None:
    """No projector runs here, so the read models never reach the log's position 1."""
    app = create_app(replace(settings, consistency_timeout=0.3), projectors=False)
    with TestClient(app) as client:
        api = Api(client)
        # The log at position 1, its payload waiting for nothing: a payload that read
        # `user` would wait with the same 0.3 s for the projections.
        assert api.ok(ops.REGISTER_POSITION_ONLY, {"input": {"name": "Ann"}})
        error = api.error(ops.RECENT, {}, headers={"X-Consistent-With": "1"})
        assert error["extensions"] == {"code": "CONSISTENCY_TIMEOUT", "position": "1"}


@pytest.mark.parametrize("past", [1, 10**12])
def test_a_position_past_the_logs_head_is_bad_user_input_unwaited(
    settings: Settings, past: int
) -> None:
    """No write returned it, so no wait would reach it: refused as soon as the checkpoints
    are found behind it, where it waited out the timeout (30 s here) for
    CONSISTENCY_TIMEOUT."""
    with TestClient(create_app(replace(settings, consistency_timeout=30))) as client:
        api = Api(client)
        head = int(
            api.ok(ops.REGISTER_POSITION_ONLY, {"input": {"name": "Ann"}})["registerUser"][
                "position"
            ]
        )
        position = head + past
        error = api.error(ops.RECENT, {}, headers={"X-Consistent-With": str(position)})
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "X-Consistent-With"}
        assert error["message"] == (
            f"X-Consistent-With is position {position}, past the end of the event log "
            f"({head}): send a position a mutation returned"
        )
        # The write itself is waited for as ever.
        assert api.ok(ops.RECENT, {}, headers={"X-Consistent-With": str(head)})


@EACH_PROTOCOL
def test_a_websocket_handshakes_position_past_the_head_is_refused_for_each_query(
    api: Api, protocol: str, start: str, error_of: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    """X-Consistent-With on the handshake holds for every query on the socket (the
    connection_init payload does not carry it); one past the head waited out the
    timeout (5 s) there too. The query never runs: an `error` for its id."""
    head = api.register("Ann").position
    client = cast(TestClient, api.client)
    seen = {"X-Consistent-With": str(head + 1)}
    with client.websocket_connect("/graphql", subprotocols=[protocol], headers=seen) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json({"id": "1", "type": start, "payload": {"query": "{ __typename }"}})
        answer = ws.receive_json()
    assert answer["type"] == "error", answer
    error = error_of(answer)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "X-Consistent-With"}
    assert error["message"].startswith(f"X-Consistent-With is position {head + 1}, past")


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
def test_a_subscription_waits_for_the_handshakes_position_as_a_query_does(
    settings: Settings, protocol: str
) -> None:
    """No projector runs here. A post created and followed at once was NOT_FOUND for good
    while the projector lagged (an outside probe): the subscription now waits for the
    handshake's position first, and times out like a query; one past the log's head is
    refused at once."""
    app = create_app(replace(settings, consistency_timeout=0.3), projectors=False)
    with TestClient(app) as client:
        api = Api(client)
        token = api.ok(
            "mutation($i: RegisterUserInput!) { registerUser(input: $i) { token } }",
            {"i": {"name": "Ann"}},
        )["registerUser"]["token"]
        made = api.ok(
            "mutation($i: CreatePostInput!) { createPost(input: $i) { position postId } }",
            {"i": {"title": "T", "content": "C"}},
            token=token,
        )["createPost"]
        position, post_id = int(made["position"]), made["postId"]
        start = "subscribe" if protocol == "graphql-transport-ws" else "start"
        expected = {
            str(position): {"code": "CONSISTENCY_TIMEOUT", "position": str(position)},
            str(position + 1): {"code": "BAD_USER_INPUT", "field": "X-Consistent-With"},
        }
        for header, extensions in expected.items():
            headers = {"X-Consistent-With": header}
            with client.websocket_connect(
                "/graphql", subprotocols=[protocol], headers=headers
            ) as ws:
                init = {"Authorization": f"Bearer {token}"}
                ws.send_json({"type": "connection_init", "payload": init})
                assert ws.receive_json() == {"type": "connection_ack"}
                for query in (
                    f'subscription {{ post(id: "{post_id}") {{ id }} }}',
                    f'subscription {{ commentAdded(postId: "{post_id}") {{ id }} }}',
                ):
                    ws.send_json({"id": query[15:19], "type": start, "payload": {"query": query}})
                    while (answer := ws.receive_json())["type"] == "complete":
                        pass
                    errors = answer["payload"]["errors"]
                    assert [error["extensions"] for error in errors] == [extensions], answer


def test_a_subscription_with_a_consistency_header_joins_no_shared_group(api: Api) -> None:
    """A shared `post` subscription ran on its first member's context: a later member's
    X-Consistent-With was never checked (one past the log's head was answered with data),
    and a first member's made every later one wait for it (an outside probe). A socket
    with the header runs its subscriptions alone (tests/e2e/test_subscription_consistency.py
    has them wait while the projector lags)."""
    ann = api.register("Ann")
    post = api.published_post(ann)
    head = int(api.register("Bob").position)
    client = cast(TestClient, api.client)
    subscribe = {
        "id": "p",
        "type": "subscribe",
        "payload": {
            "query": "subscription($id: ID!) { post(id: $id) { id } }",
            "variables": {"id": post["id"]},
        },
    }

    def first_answer(ws: Any) -> dict[str, Any]:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json(subscribe)
        return cast(dict[str, Any], ws.receive_json()["payload"])

    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as plain:
        assert first_answer(plain) == {"data": {"post": {"id": post["id"]}}}
        for header, code in ((str(head + 1), "BAD_USER_INPUT"), ("soon", "BAD_USER_INPUT")):
            with client.websocket_connect(
                "/graphql",
                subprotocols=["graphql-transport-ws"],
                headers={"X-Consistent-With": header},
            ) as ws:
                errors = first_answer(ws)["errors"]
                assert [error["extensions"]["code"] for error in errors] == [code], header
        seen = {"X-Consistent-With": str(head)}
        with client.websocket_connect(
            "/graphql", subprotocols=["graphql-transport-ws"], headers=seen
        ) as ws:
            assert first_answer(ws) == {"data": {"post": {"id": post["id"]}}}


@pytest.mark.parametrize("header", ["soon", "", "-1", "1_000", "+3", "1.0", "0x10", "9" * 20])
def test_a_malformed_consistency_header_is_bad_user_input(api: Api, header: str) -> None:
    error = api.error(ops.RECENT, {}, headers={"X-Consistent-With": header})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("X-Consistent-With must be a position")


def test_a_consistency_header_in_another_script_is_quoted_as_sent(api: Api) -> None:
    """Header bytes are read as Latin-1: the UTF-8 of an Arabic-Indic three came back
    in the message as mojibake (an outside probe)."""
    sent: dict[str, Any] = {"X-Consistent-With": "٣".encode()}  # httpx sends bytes as they are
    error = api.error(ops.RECENT, {}, headers=sent)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].endswith("not '٣'"), error["message"]


def test_an_unknown_field_is_a_graphql_validation_error(api: Api) -> None:
    error = api.error("{ recentPosts { nonsense } }")
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_a_query_that_does_not_parse_is_graphql_parse_failed(api: Api) -> None:
    error = api.error("{ recentPosts { ")
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"  # as Apollo Server says
