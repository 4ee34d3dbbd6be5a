"""Each distinct document is parsed and validated once per process, and still refused when bad."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import graphql
import pytest
from strawberry.extensions import SchemaExtension

import schema.operations
from schema.execution import NoExtensions
from schema.queries import Query
from schema.served import MAX_DEPTH, InkwellSchema, build_schema
from tests.support.api import Api

POST = "query ($id: ID!) { post(id: $id) { id title author { name } } }"


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The documents graphql-core is asked to validate, in order."""
    seen: list[str] = []
    validate = graphql.validate

    def counted(graphql_schema: Any, document: Any, rules: Any, **options: Any) -> Any:
        seen.append(document.loc.source.body)
        return validate(graphql_schema, document, rules, **options)

    monkeypatch.setattr(schema.operations, "validate", counted)
    return seen


def test_a_repeated_document_is_validated_once(api: Api, validations: list[str]) -> None:
    for post_id in (str(uuid.uuid4()) for _ in range(3)):
        assert api.ok(POST, {"id": post_id}) == {"post": None}
    assert validations == [POST]


def test_a_cached_document_that_breaks_a_limit_is_refused_every_time(
    api: Api, validations: list[str]
) -> None:
    fields = ["viewer", *["posts"] * MAX_DEPTH]
    query = "{ " + " { ".join(fields) + " { id }" + " }" * len(fields)
    for _ in range(2):
        body = api.call(query)
        assert "data" not in body or body["data"] is None
        assert "QUERY_TOO_COMPLEX" in {error["extensions"]["code"] for error in body["errors"]}
    assert validations == [query]


def test_an_invalid_document_is_refused_every_time_with_its_code(api: Api) -> None:
    for _ in range(2):
        assert api.error("{ nope }")["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    for _ in range(2):
        error = api.error("{ viewer { id ")
        assert "Syntax Error" in error["message"]


def test_no_extension_is_built_per_request() -> None:
    assert build_schema().get_extensions() == []


def test_without_extensions_no_hook_runs_and_an_extension_still_would() -> None:
    """The hook-free runner stands in only while there is nothing to hook: a schema given
    an extension runs its hooks around the operation as strawberry does."""
    seen: list[str] = []

    class Recording(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            seen.append("before")
            yield
            seen.append("after")

    plain = build_schema()
    result = plain.execute_sync("{ __typename }")
    assert result.data == {"__typename": "Query"}
    assert isinstance(plain.create_extensions_runner(None, []), NoExtensions)  # type: ignore[arg-type]

    hooked = InkwellSchema(query=Query, extensions=[Recording])
    assert hooked.execute_sync("{ __typename }").data == {"__typename": "Query"}
    assert seen == ["before", "after"]
