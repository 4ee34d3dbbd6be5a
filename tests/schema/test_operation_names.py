"""operationName as clients send it, right or wrong: a wrong one is a request error with
its code, never a 500 (an unknown name once reached a hook that expected an operation)."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
import pytest

from tests.support.api import Api

QUERY = "query A { __typename }"
MUTATION = 'mutation A { registerUser(input: {name: "Ann"}) { position } }'


def post(api: Api, body: dict[str, Any]) -> httpx.Response:
    return api.client.post("/graphql", json=body)


@pytest.mark.parametrize("document", [QUERY, MUTATION])
@pytest.mark.parametrize("name", ["B", "", 5, [], {}, True])
def test_an_operation_name_the_document_lacks_is_a_bad_request(
    api: Api, document: str, name: object
) -> None:
    response = post(api, {"query": document, "operationName": name})
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "Traceback" not in response.text


def test_an_unknown_operation_name_over_get_is_a_bad_request(api: Api) -> None:
    response = api.client.get("/graphql", params={"query": QUERY, "operationName": "B"})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_two_operations_without_a_name_are_a_bad_request_and_run_neither(api: Api) -> None:
    document = (
        'mutation A { registerUser(input: {name: "Ann"}) { position } } query B { __typename }'
    )
    response = post(api, {"query": document})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    named = post(api, {"query": document, "operationName": "A"})
    assert named.status_code == 200, named.text
    assert named.json()["data"]["registerUser"]["position"] == "1"  # the first write of the log


def test_the_named_operation_of_several_runs(api: Api) -> None:
    document = "query A { __typename } query B { recentPosts { totalCount } }"
    response = post(api, {"query": document, "operationName": "B"})
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"recentPosts": {"totalCount": 0}}
