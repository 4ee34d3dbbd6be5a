"""Bearer credentials over HTTP: a token that does not verify is refused with 401 and
RFC 6750's challenge, never answered as anonymous; no token, or another scheme's
credentials, is an anonymous reader."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from auth import authorization
from auth.tokens import DEFAULT_LIFETIME, LONGEST_TOKEN, BearerTokens
from infra.settings import Settings
from protection.addresses import bearer_token
from tests.support import operations as ops
from tests.support.refusals import appends_nothing
from wiring.asgi import create_app

GRAPHQL_RESPONSE = "application/graphql-response+json"
VIEWER = {"query": "{ viewer { id } }"}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as running:
        yield running


def register(client: TestClient) -> tuple[str, str]:
    """A new user's id and token."""
    body = {"query": ops.REGISTER, "variables": {"input": {"name": "Ann"}}}
    answer = client.post("/graphql", json=body).json()["data"]["registerUser"]
    return answer["user"]["id"], answer["token"]


def bad_tokens(settings: Settings, user_id: str) -> dict[str, str]:
    """Tokens for `user_id` that this server must not accept, by why."""
    long_ago = time.time() - 2 * DEFAULT_LIFETIME
    return {
        # What a tab still holds after the server starts on a new data directory.
        "another key's": BearerTokens(b"an old data directory's key").issue(user_id),
        "expired": BearerTokens(settings.signing_key, clock=lambda: long_ago).issue(user_id),
        "forged": f"{user_id}.9999999999.c2lnbmF0dXJl",
        "not a token": "null",
        "too long": "x" * (LONGEST_TOKEN + 1),
    }


def viewer(client: TestClient, authorization: str, accept: str = "application/json") -> Any:
    headers = {"authorization": authorization, "accept": accept}
    return client.post("/graphql", json=VIEWER, headers=headers)


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
def test_a_token_that_does_not_verify_is_refused_with_401_and_a_challenge(
    client: TestClient, settings: Settings, accept: str
) -> None:
    user_id, _ = register(client)
    for why, token in bad_tokens(settings, user_id).items():
        response = viewer(client, f"Bearer {token}", accept)
        assert response.status_code == 401, why
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith('Bearer error="invalid_token", error_description="'), why
        assert response.headers["content-type"].split(";")[0] == accept, why
        body = response.json()
        assert "data" not in body, why
        (error,) = body["errors"]
        assert error["extensions"] == {"code": "UNAUTHENTICATED"}, why
        assert "registerUser" in error["message"], why


def test_a_mutation_with_a_token_that_does_not_verify_is_refused_unrun(
    client: TestClient, settings: Settings
) -> None:
    user_id, _ = register(client)
    token = bad_tokens(settings, user_id)["another key's"]
    body = {"query": ops.CREATE_POST, "variables": {"input": {"title": "T", "content": "C"}}}
    with appends_nothing(settings):
        response = client.post("/graphql", json=body, headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


def test_a_get_with_a_token_that_does_not_verify_is_refused_and_not_kept(
    client: TestClient,
) -> None:
    response = client.get(
        "/graphql",
        params={"query": "{ recentPosts(first: 1) { totalCount } }"},
        headers={"authorization": f"Bearer {uuid.uuid4()}.1.x", "accept": GRAPHQL_RESPONSE},
    )
    assert response.status_code == 401
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


@pytest.mark.parametrize("authorization", ["Bearer", "Bearer ", "bearer   "])
def test_the_bearer_scheme_without_a_token_is_a_malformed_request(
    client: TestClient, authorization: str
) -> None:
    response = viewer(client, authorization)
    assert response.status_code == 400
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_request"')
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}


# As the server reads header bytes (latin-1): a no-break space as one byte and as UTF-8's
# two, a zero-width space, a byte order mark in front.
MALFORMED_BEARERS = [
    "Bearer\t{token}",
    "Bearer\xa0{token}",
    "Bearer\xc2\xa0{token}",
    "Bearer\xe2\x80\x8b{token}",
    "\xa0Bearer {token}",
    "\xef\xbb\xbfBearer {token}",
]


@pytest.mark.parametrize("form", MALFORMED_BEARERS)
def test_bearer_credentials_parted_by_other_than_a_space_are_a_malformed_request(
    client: TestClient, form: str
) -> None:
    """Read as another scheme, they signed their sender out in silence: `viewer` null,
    mutations UNAUTHENTICATED, no 401 (outside probes)."""
    _, token = register(client)
    response = client.post(
        "/graphql",
        json=VIEWER,
        headers=[(b"authorization", form.format(token=token).encode("latin-1"))],
    )
    assert response.status_code == 400
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_request"')
    assert "does not part it from its token" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    "value", [*MALFORMED_BEARERS, "Bearer {token}", "bearer   {token} ", "Bearer", "Basic {token}"]
)
def test_the_rate_limits_count_every_token_that_is_verified(value: str) -> None:
    """`\xa0Bearer <token>` was verified (a strip of every Unicode space) and never
    counted (a split at the first space): a guessing oracle past the bad-token limit."""
    raw = value.format(token="guess").encode("latin-1")
    found = authorization.credentials(BearerTokens(b"key"), raw.decode("latin-1"))
    counted = bearer_token({"type": "http", "headers": [(b"authorization", raw)]})
    assert (found is authorization.INVALID_TOKEN) == (counted == "guess"), (found, counted)


@pytest.mark.parametrize("authorization", ["", "Basic QWxhZGRpbjpvcGVu", "Token abc"])
def test_no_token_or_another_schemes_credentials_is_an_anonymous_reader(
    client: TestClient, authorization: str
) -> None:
    """Another scheme's credentials are not Inkwell's: a proxy's Basic authentication in
    front of it, which browsers send with every request to its origin."""
    response = viewer(client, authorization)
    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": None}}
    assert "www-authenticate" not in response.headers


def test_a_valid_token_still_proves_its_user(client: TestClient) -> None:
    user_id, token = register(client)
    response = viewer(client, f"bearer {token}")
    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": {"id": user_id}}}
