"""Every BAD_USER_INPUT names what it refuses in `extensions.field`, as the README's
conventions promise: an argument, an input field, a variable or a header."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import operations as ops
from tests.support.api import Account, Api


@pytest.fixture
def ann(api: Api) -> Account:
    return api.register("Ann")


def refusal(api: Api, query: str, variables: dict[str, Any], **kw: Any) -> dict[str, Any]:
    extensions: dict[str, Any] = api.error(query, variables, **kw)["extensions"]
    assert extensions["code"] == "BAD_USER_INPUT", extensions
    return extensions


@pytest.mark.parametrize("query", ["a ! b", "", "x" * 201, " ".join(f"w{i}" for i in range(11))])
def test_a_search_refused_names_its_query(api: Api, query: str) -> None:
    assert refusal(api, ops.SEARCH, {"query": query})["field"] == "query"


def test_too_many_ids_for_nodes_names_the_ids(api: Api) -> None:
    ids = ["00000000-0000-4000-8000-000000000000"] * 101
    assert refusal(api, "query($i: [ID!]!) { nodes(ids: $i) { id } }", {"i": ids})["field"] == "ids"


def test_a_command_id_used_for_another_command_names_it(api: Api, ann: Account) -> None:
    first = {"title": "One", "content": "C", "commandId": "mine-1"}
    api.ok(ops.CREATE_POST, {"input": first}, token=ann.token)
    again = {**first, "title": "Two"}
    assert refusal(api, ops.CREATE_POST, {"input": again}, token=ann.token)["field"] == "commandId"


@pytest.mark.parametrize("header", ["abc", "1_000", "99999"])
def test_an_x_consistent_with_refused_names_the_header(api: Api, header: str) -> None:
    extensions = refusal(api, "{ __typename }", {}, headers={"X-Consistent-With": header})
    assert extensions["field"] == "X-Consistent-With"


@pytest.mark.parametrize("header", [" 0", "0 ", "\t0\t"])
def test_spaces_around_x_consistent_with_are_not_its_value(api: Api, header: str) -> None:
    """RFC 9110, 5.5: a field value excludes the whitespace around it; uvicorn keeps it."""
    sent = {"X-Consistent-With": header}
    assert api.ok("{ __typename }", headers=sent) == {"__typename": "Query"}


def test_a_variable_of_the_wrong_type_is_named(api: Api) -> None:
    query = "query($n: Int) { recentPosts(first: $n) { totalCount } }"
    assert refusal(api, query, {"n": "twenty"})["field"] == "$n"
    assert refusal(api, ops.CREATE_POST, {"input": None})["field"] == "$input"


def test_a_malformed_persisted_query_hash_is_named(api: Api) -> None:
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": "nothex"}}
    response = api.client.post(
        "/graphql", json={"query": "{ __typename }", "extensions": extensions}
    )
    (error,) = response.json()["errors"]
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "extensions.persistedQuery.sha256Hash",
    }
