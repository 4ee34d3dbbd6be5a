"""A small GraphQL client for tests: sends operations, returns data, or the one error expected."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx2 as httpx

from harness.server_process import ServerProcess
from tests.support import operations as ops


@dataclass(frozen=True)
class Account:
    id: str
    token: str
    position: int


class Api:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def call(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        response = self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=sent
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def ok(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        body = self.call(query, variables, **kw)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    def error(
        self, query: str, variables: dict[str, Any] | None = None, **kw: Any
    ) -> dict[str, Any]:
        """The single error an operation is expected to fail with."""
        body = self.call(query, variables, **kw)
        assert body.get("errors"), f"expected an error, got {body}"
        assert len(body["errors"]) == 1, body["errors"]
        error: dict[str, Any] = body["errors"][0]
        return error

    def register(self, name: str = "Ada", **fields: Any) -> Account:
        data = self.ok(ops.REGISTER, {"input": {"name": name, **fields}})["registerUser"]
        return Account(data["user"]["id"], data["token"], int(data["position"]))

    def create_post(self, author: Account, title: str = "Hello", **fields: Any) -> dict[str, Any]:
        variables = {"input": {"title": title, "content": fields.pop("content", "Text."), **fields}}
        post: dict[str, Any] = self.ok(ops.CREATE_POST, variables, token=author.token)[
            "createPost"
        ]["post"]
        return post

    def publish(self, author: Account, post_id: str) -> dict[str, Any]:
        data = self.ok(ops.PUBLISH_POST, {"input": {"postId": post_id}}, token=author.token)
        post: dict[str, Any] = data["publishPost"]["post"]
        return post

    def comment(self, who: Account, post_id: str, body: str) -> dict[str, Any]:
        variables = {"input": {"postId": post_id, "body": body}}
        data = self.ok(ops.ADD_COMMENT, variables, token=who.token)
        payload: dict[str, Any] = data["addComment"]
        return payload

    def published_post(
        self, author: Account, title: str = "Hello", **fields: Any
    ) -> dict[str, Any]:
        return self.publish(author, self.create_post(author, title, **fields)["id"])


def http_api(server: ServerProcess) -> Api:
    """An Api speaking HTTP to a server process."""
    return Api(httpx.Client(base_url=server.url, timeout=30))
