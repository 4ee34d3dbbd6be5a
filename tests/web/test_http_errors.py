"""Every error the app answers, on every route, is a GraphQL response with `extensions.code`,
its Allow and its message agreeing: Starlette's were text/plain without a code."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from infra.settings import Settings
from tests.support.api import Api
from wiring.asgi import create_app

GRAPHQL_RESPONSE = "application/graphql-response+json"


def methods(allow: str) -> set[str]:
    return {method.strip() for method in allow.split(",")}


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nope"), ("POST", "/graphql/"), ("GET", "/static/nope.js"), ("GET", "/static/")],
)
def test_a_path_that_serves_nothing_is_not_found(api: Api, method: str, path: str) -> None:
    response = api.client.request(method, path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "NOT_FOUND"}
    assert "/graphql" in error["message"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/metrics", {"GET", "HEAD"}),
        ("DELETE", "/ready", {"GET", "HEAD"}),
        ("PUT", "/health", {"GET", "HEAD"}),
        ("POST", "/", {"GET", "HEAD"}),
        ("DELETE", "/static/live.js", {"GET", "HEAD"}),
        ("TRACE", "/graphql", {"GET", "HEAD", "POST"}),
        ("PUT", "/graphql", {"GET", "HEAD", "POST"}),
        ("OPTIONS", "/graphql", {"GET", "HEAD", "POST"}),
    ],
)
def test_a_method_a_route_does_not_take_is_named_with_what_it_takes(
    api: Api, method: str, path: str, allowed: set[str]
) -> None:
    """`TRACE /graphql` said "GraphQL only supports GET and POST requests" beside an Allow
    that lists HEAD too."""
    response = api.client.request(method, path, headers={"accept": GRAPHQL_RESPONSE})
    assert response.status_code == 405
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    assert methods(response.headers["allow"]) == allowed
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "METHOD_NOT_ALLOWED"}
    assert error["message"].startswith(f"{method} is not allowed")
    named = set(error["message"].replace(",", " ").replace(".", " ").split())
    assert allowed <= named, error["message"]


def test_a_route_that_fails_answers_a_coded_500_and_no_traceback(settings: Settings) -> None:
    async def failing(_request: Request) -> Response:
        raise RuntimeError("a secret in the traceback")

    app = create_app(settings)
    app.router.routes.append(Route("/failing", failing))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/failing")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "secret" not in response.text
