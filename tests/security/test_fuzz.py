"""Property-based fuzzing of the live server: hypothesis builds documents from the served
schema (fields, arguments of every type, wrong types, garbage ids, variables), and checks
what any public GraphQL API must hold:

- no 5xx, and every answer is a GraphQL response (data and/or coded errors);
- no traceback, file path or internal error in any answer;
- the event log grows only by commands that succeeded.

Bounded: a fixed number of examples, tens of seconds.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    get_named_type,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schema.served import build_schema
from tests.support import operations as ops
from tests.support.protected_server import StartServer, event_count

SCHEMA = build_schema()._schema
CODES = {
    "BAD_USER_INPUT",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "CONFLICT",
    "BUSINESS_RULE",
    "CONSISTENCY_TIMEOUT",
    "RATE_LIMITED",
    "QUERY_TOO_COMPLEX",
    "GRAPHQL_VALIDATION_FAILED",
    "GRAPHQL_PARSE_FAILED",
    "PERSISTED_QUERY_NOT_FOUND",
    "PERSISTED_QUERY_NOT_SUPPORTED",
}
ANY_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)
LEAKS = ("Traceback", 'File "', '.py"', "INTERNAL_SERVER_ERROR")
ODD_STRINGS = st.sampled_from(
    ["", " ", "x" * 300, "\u202e", "\x00", "é", "🙂", "<script>", "'\"", "a:b", "-1", "null"]
)


class Fuzz:
    """Draws one document, its variables, and whether to send a token."""

    def __init__(self, data: st.DataObject, ids: list[str]) -> None:
        self.data = data
        self.ids = ids
        self.variables: dict[str, Any] = {}
        self.definitions: list[str] = []

    def draw(self, strategy: st.SearchStrategy[Any]) -> Any:
        return self.data.draw(strategy)

    def operation(self) -> tuple[str, bool]:
        mutation = self.draw(st.booleans())
        root = SCHEMA.mutation_type if mutation else SCHEMA.query_type
        assert root is not None
        # Mutations one root field at a time, so success or failure is the command's.
        count = 1 if mutation else self.draw(st.integers(1, 3))
        fields = [self.field(root, depth=0) for _ in range(count)]
        keyword = "mutation" if mutation else "query"
        header = f"({', '.join(self.definitions)})" if self.definitions else ""
        return f"{keyword}{header} {{ {' '.join(fields)} }}", mutation

    def field(self, parent: GraphQLObjectType, depth: int) -> str:
        name: str = self.draw(st.sampled_from(sorted(parent.fields)))
        definition: GraphQLField = parent.fields[name]
        arguments = [
            f"{argument}: {self.argument(kind.type)}"
            for argument, kind in definition.args.items()
            if isinstance(kind.type, GraphQLNonNull) or self.draw(st.booleans())
        ]
        text = name + (f"({', '.join(arguments)})" if arguments else "")
        inner = get_named_type(definition.type)
        if isinstance(inner, GraphQLObjectType):
            if depth >= 4:
                return text + " { __typename }"
            count = self.draw(st.integers(1, 3))
            text += " { " + " ".join(self.field(inner, depth + 1) for _ in range(count)) + " }"
        return text

    def argument(self, kind: GraphQLInputType) -> str:
        """A literal, or now and then a variable (sometimes of the wrong type)."""
        value = self.value(kind)
        if self.draw(st.integers(0, 4)) == 0:
            variable = f"v{len(self.definitions)}"
            self.definitions.append(f"${variable}: {kind}")
            # Now and then a value of any JSON shape, whatever the variable's type.
            wrong = self.draw(st.integers(0, 2)) == 0
            self.variables[variable] = self.draw(ANY_JSON) if wrong else _as_json(value)
            return f"${variable}"
        return _literal(value)

    def value(self, kind: GraphQLInputType) -> Any:
        nullable = not isinstance(kind, GraphQLNonNull)
        inner = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
        if nullable and self.draw(st.integers(0, 9)) == 0:
            return None
        if isinstance(inner, GraphQLList):
            return [self.value(inner.of_type) for _ in range(self.draw(st.integers(0, 3)))]
        if isinstance(inner, GraphQLInputObjectType):
            return {
                field: self.value(value.type)
                for field, value in inner.fields.items()
                if isinstance(value.type, GraphQLNonNull) or self.draw(st.booleans())
            }
        if isinstance(inner, GraphQLEnumType):
            return EnumName(self.draw(st.sampled_from(sorted(inner.values))))
        assert isinstance(inner, GraphQLScalarType)
        return self.scalar(inner.name)

    def scalar(self, kind: str) -> Any:
        match kind:
            case "Int":
                return self.draw(st.integers(-3, 150) | st.integers(-(2**31), 2**31 - 1))
            case "Boolean":
                return self.draw(st.booleans())
            case "ID":
                known = st.sampled_from(self.ids) if self.ids else st.nothing()
                return self.draw(known | st.uuids().map(str) | ODD_STRINGS)
        return self.draw(st.text(max_size=40) | ODD_STRINGS)


@dataclass(frozen=True)
class EnumName:
    name: str


def _literal(value: Any) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "true" if value else "false"
        case int():
            return str(value)
        case EnumName(name):
            return name
        case list():
            return "[" + ", ".join(_literal(item) for item in value) + "]"
        case dict():
            return "{" + ", ".join(f"{key}: {_literal(item)}" for key, item in value.items()) + "}"
    return json.dumps(value)


def _as_json(value: Any) -> Any:
    match value:
        case EnumName(name):
            return name
        case list():
            return [_as_json(item) for item in value]
        case dict():
            return {key: _as_json(item) for key, item in value.items()}
    return value


def test_no_document_breaks_the_server(start_server: StartServer, tmp_path: Path) -> None:
    server = start_server(INKWELL_RATE_LIMITS="off", INKWELL_CONSISTENCY_TIMEOUT="10")
    client = httpx.Client(base_url=server.url, timeout=30)
    registered = client.post(
        "/graphql", json={"query": ops.REGISTER, "variables": {"input": {"name": "Fuzz"}}}
    ).json()["data"]["registerUser"]
    token, user_id = registered["token"], registered["user"]["id"]
    created = client.post(
        "/graphql",
        json={
            "query": ops.CREATE_POST,
            "variables": {"input": {"title": "Target", "content": "Body", "tags": ["t"]}},
        },
        headers={"Authorization": f"Bearer {token}"},
    ).json()["data"]["createPost"]["post"]
    ids = [user_id, created["id"], str(uuid.uuid4())]

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(st.data())
    def one_request(data: st.DataObject) -> None:
        fuzz = Fuzz(data, ids)
        document, mutation = fuzz.operation()
        authorized = data.draw(st.booleans())
        before = event_count(tmp_path)
        response = client.post(
            "/graphql",
            json={"query": document, "variables": fuzz.variables},
            headers={"Authorization": f"Bearer {token}"} if authorized else {},
        )
        check_answer(response)
        body = response.json()
        grown = event_count(tmp_path) - before
        errors = body.get("errors") or []
        if any(error["extensions"]["code"] == "CONSISTENCY_TIMEOUT" for error in errors):
            return  # a command may have succeeded while its read-back timed out
        if not mutation or errors:
            assert grown == 0, (document, body)

    try:
        one_request()
    finally:
        client.close()


def check_answer(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    text = response.text
    assert not any(leak in text for leak in LEAKS), text
    body = response.json()
    assert isinstance(body, dict) and set(body) <= {"data", "errors", "extensions"}, body
    assert "data" in body or body.get("errors"), body
    for error in body.get("errors") or []:
        assert isinstance(error["message"], str) and error["message"], error
        assert error["extensions"]["code"] in CODES, error
