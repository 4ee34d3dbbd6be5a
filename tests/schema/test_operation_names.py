"""operationName as clients send it, right or wrong: a wrong one is a request error with
its code, never a 500 (an unknown name once reached a hook that expected an operation).
A name of the wrong type makes the request malformed (400 in either media type); a
string that selects no operation is a GraphQL request error, whose status follows the
media type as a validation error's does."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
import pytest

from tests.support.api import Api

QUERY = "query A { __typename }"
MUTATION = 'mutation A { registerUser(input: {name: "Ann"}) { position } }'


GRAPHQL_RESPONSE = "application/graphql-response+json"
# GraphQL over HTTP: a request error answers 200 in application/json, 400 in the new type.
STATUS = {"application/json": 200, GRAPHQL_RESPONSE: 400}


def post(api: Api, body: dict[str, Any], accept: str = "application/json") -> httpx.Response:
    return api.client.post("/graphql", json=body, headers={"accept": accept})


def request_error(response: httpx.Response, accept: str) -> dict[str, Any]:
    """The one error of a request that failed before execution: no data, a code."""
    assert response.status_code == STATUS[accept], response.text
    body = response.json()
    assert "data" not in body, body
    (error,) = body["errors"]
    assert "Traceback" not in response.text
    return dict(error)


@pytest.mark.parametrize("accept", STATUS)
@pytest.mark.parametrize("document", [QUERY, MUTATION])
@pytest.mark.parametrize("name", ["B", ""])
def test_an_operation_name_the_document_lacks_is_a_request_error(
    api: Api, document: str, name: str, accept: str
) -> None:
    error = request_error(post(api, {"query": document, "operationName": name}, accept), accept)
    assert error["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize("document", [QUERY, MUTATION])
@pytest.mark.parametrize("name", [5, [], {}, True])
def test_an_operation_name_that_is_not_a_string_is_a_malformed_request(
    api: Api, document: str, name: object
) -> None:
    response = post(api, {"query": document, "operationName": name})
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"


def test_an_unknown_operation_name_over_get_is_a_request_error(api: Api) -> None:
    params = {"query": QUERY, "operationName": "B"}
    response = api.client.get("/graphql", params=params, headers={"accept": GRAPHQL_RESPONSE})
    assert request_error(response, GRAPHQL_RESPONSE)["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize("accept", STATUS)
def test_a_subscription_over_http_is_a_request_error(api: Api, accept: str) -> None:
    response = post(api, {"query": "subscription { projections { name } }"}, accept)
    assert request_error(response, accept)["extensions"]["code"] == "BAD_REQUEST"


def test_two_operations_without_a_name_are_a_request_error_and_run_neither(api: Api) -> None:
    document = (
        'mutation A { registerUser(input: {name: "Ann"}) { position } } query B { __typename }'
    )
    for accept in STATUS:
        error = request_error(post(api, {"query": document}, accept), accept)
        assert error["extensions"]["code"] == "BAD_REQUEST"
    named = post(api, {"query": document, "operationName": "A"})
    assert named.status_code == 200, named.text
    assert named.json()["data"]["registerUser"]["position"] == "1"  # the first write of the log


def test_the_named_operation_of_several_runs(api: Api) -> None:
    document = "query A { __typename } query B { recentPosts { totalCount } }"
    response = post(api, {"query": document, "operationName": "B"})
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"recentPosts": {"totalCount": 0}}
