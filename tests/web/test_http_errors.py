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
    ("range_", "status", "code"),
    [
        ("bytes=abc", 400, "BAD_REQUEST"),
        ("items=0-1", 400, "BAD_REQUEST"),
        ("bytes=5-1", 400, "BAD_REQUEST"),
        ("bytes=99999999-", 416, "REQUESTED_RANGE_NOT_SATISFIABLE"),
    ],
)
@pytest.mark.parametrize("encoding", ["identity", "gzip"])  # a vendored file's copy too
def test_a_range_a_static_file_cannot_answer_is_refused_coded(
    api: Api, range_: str, status: int, code: str, encoding: str
) -> None:
    """Starlette answered these in text/plain without a code (an outside probe)."""
    for path in ("/static/live.js", "/static/vendor/graphiql@3.8.3/graphiql.min.js"):
        headers = {"Range": range_, "Accept-Encoding": encoding}
        response = api.client.get(path, headers=headers)
        assert response.status_code == status, (path, response.text)
        assert response.headers["content-type"] == "application/json"
        (error,) = response.json()["errors"]
        assert error["extensions"] == {"code": code}
        if status == 416:
            assert response.headers["content-range"].startswith("bytes */")


def test_a_range_a_static_file_can_answer_is_answered(api: Api) -> None:
    whole = api.client.get("/static/live.js").content
    response = api.client.get("/static/live.js", headers={"Range": "bytes=0-9"})
    assert response.status_code == 206
    assert response.content == whole[:10]


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
