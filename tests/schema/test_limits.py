"""Protective limits: a query too deep, too wide or too long is QUERY_TOO_COMPLEX."""

from __future__ import annotations

from graphql import get_introspection_query

from schema import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS
from tests.support.api import Api

DEEPEST = """{ user(id: "00000000-0000-4000-8000-000000000000") { posts { edges { node {
  comments { edges { node { author { name } } } } } } } } }"""


def test_the_deepest_query_the_schema_allows_is_within_the_limit(api: Api) -> None:
    assert api.ok(DEEPEST) == {"user": None}


def test_a_query_deeper_than_the_limit_is_too_complex(api: Api) -> None:
    fields = ["viewer", *["posts"] * MAX_DEPTH]
    query = "{ " + " { ".join(fields) + " { id }" + " }" * len(fields)
    codes = {error["extensions"]["code"] for error in api.call(query)["errors"]}
    assert "QUERY_TOO_COMPLEX" in codes


def test_too_many_aliases_are_too_complex(api: Api) -> None:
    query = "{ " + " ".join(f"a{i}: viewer {{ id }}" for i in range(MAX_ALIASES + 1)) + " }"
    assert api.error(query)["extensions"]["code"] == "QUERY_TOO_COMPLEX"


def test_a_document_of_too_many_tokens_is_too_complex(api: Api) -> None:
    query = "{ viewer { " + "id " * MAX_TOKENS + "} }"
    assert api.error(query)["extensions"]["code"] == "QUERY_TOO_COMPLEX"


def test_the_playgrounds_introspection_query_is_within_the_limits(api: Api) -> None:
    body = api.call(get_introspection_query(descriptions=True))
    assert "errors" not in body and body["data"]["__schema"]["queryType"]["name"] == "Query"
