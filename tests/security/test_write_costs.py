"""Writes whose read-side cost grows with what they carry are charged to per-user budgets
(schema/write_costs.py): the distinct words posts give the search index (random words
made a Redis key each, 4.3 MB a post), and profile updates (each rewrites the author's
name into every post and comment of theirs)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx

from tests.support import operations as ops
from tests.support.protected_server import StartServer, event_count
from tests.support.typed_text import fullwidth

BUDGET = {"INKWELL_RATE_LIMIT_SEARCH_WORDS": "50/hour"}
SEARCH = "query($q: String!) { searchPosts(query: $q) { edges { node { title } } } }"


def text(first: int, count: int) -> str:
    """`count` distinct words, none shared with another call's range."""
    return " ".join(f"w{n}" for n in range(first, first + count))


class Writer:
    def __init__(self, client: httpx.Client, name: str) -> None:
        self.client = client
        self.token: str | None = None
        body = self.call(ops.REGISTER, {"input": {"name": name}})
        self.token = body["data"]["registerUser"]["token"]

    def call(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        body: dict[str, Any] = self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        ).json()
        return body

    def create(self, title: str, content: str) -> dict[str, Any]:
        return self.call(ops.CREATE_POST, {"input": {"title": title, "content": content}})


@contextmanager
def first_writer(start_server: StartServer, **env: str) -> Iterator[Writer]:
    """Ann, registered on a new server with `env`; `Writer(ann.client, ...)` adds others."""
    server = start_server(**env)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield Writer(client, "Ann")


def test_words_past_the_budget_are_refused_and_append_nothing(
    start_server: StartServer, tmp_path: Path
) -> None:
    with first_writer(start_server, **BUDGET) as ann:
        first = ann.create("Alpha", text(0, 30))  # 31 words with the title
        assert "errors" not in first, first
        before = event_count(tmp_path)
        refused = ann.create("Beta", text(100, 30))
        (error,) = refused["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        # The hour spent weighs on through the next (protection/throttle.py).
        assert 0 < error["extensions"]["retryAfter"] <= 2 * 3600
        assert "words given to the search index" in error["message"]
        assert event_count(tmp_path) == before
        # Words already counted cost again only as a new post's or edit's own.
        edit = ann.call(
            ops.UPDATE_POST,
            {
                "input": {
                    "postId": first["data"]["createPost"]["post"]["id"],
                    "expectedVersion": 1,
                    "title": "Gamma",
                }
            },
        )
        assert "errors" not in edit, edit
        # Another user has a budget of their own.
        bob = Writer(ann.client, "Bob")
        assert "errors" not in bob.create("Delta", text(200, 40))


def test_one_post_with_more_words_than_a_whole_budget_is_bad_input(
    start_server: StartServer, tmp_path: Path
) -> None:
    with first_writer(start_server, **BUDGET) as ann:
        before = event_count(tmp_path)
        body = ann.create("Huge", text(0, 60))
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "61 distinct words" in error["message"] and "at most 50" in error["message"]
    assert event_count(tmp_path) == before


def test_words_count_as_the_index_folds_them(start_server: StartServer) -> None:
    """Thirty words written plainly, in fullwidth letters and with a zero-width space
    inside each are thirty words of the index, and of the budget (split as before, 80)."""
    plain = text(0, 30)
    hidden = plain.replace("w", "w\u200b")
    with first_writer(start_server, **BUDGET) as ann:
        body = ann.create("Alpha", f"{plain} {fullwidth(plain)} {hidden}")
        assert "errors" not in body, body  # 31 words with the title
        refused = ann.create("Beta", text(100, 19))  # 20 more: 51
        (error,) = refused["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"


def test_a_long_article_of_natural_text_fits_the_default_budget(
    start_server: StartServer,
) -> None:
    """100,000 characters from a vocabulary of 3,000 words, three times over."""
    vocabulary = [f"word{n}" for n in range(3_000)]
    article = " ".join(vocabulary[(n * 7) % 3_000] for n in range(11_000))[:100_000]
    with first_writer(start_server) as ann:
        for title in ("First", "Second", "Third"):
            assert "errors" not in ann.create(title, article)


def test_profile_updates_past_their_rate_are_refused_and_append_nothing(
    start_server: StartServer, tmp_path: Path
) -> None:
    with first_writer(start_server, INKWELL_RATE_LIMIT_PROFILE_UPDATES="2/hour") as ann:
        for name in ("Ann B", "Ann C"):
            assert "errors" not in ann.call(ops.UPDATE_PROFILE, {"input": {"name": name}})
        before = event_count(tmp_path)
        body = ann.call(ops.UPDATE_PROFILE, {"input": {"bio": "Writes."}})
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert "profile updates" in error["message"]
        assert event_count(tmp_path) == before
        bob = Writer(ann.client, "Bob")
        assert "errors" not in bob.call(ops.UPDATE_PROFILE, {"input": {"name": "Robert"}})


def test_text_the_domain_refuses_is_refused_before_it_is_counted(
    start_server: StartServer, tmp_path: Path
) -> None:
    """Split before the rules, a 1 MB content the domain then refused held the event loop
    57 ms, and its words were charged."""
    with first_writer(start_server, **BUDGET) as ann:
        before = event_count(tmp_path)
        body = ann.create("Too long", text(0, 30) + " x" * 60_000)
        (error,) = body["errors"]
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "content"}
        assert event_count(tmp_path) == before
        assert "errors" not in ann.create("Fits", text(100, 40))  # nothing was charged


def test_bytes_of_text_past_the_budget_are_refused_per_user_and_per_address(
    start_server: StartServer, tmp_path: Path
) -> None:
    """A post of 100,000 emoji is 400 KB and no search word: one user stored 55 MB of
    Redis a minute within the write rate, an address with ten accounts ten times that
    (an outside probe)."""
    with first_writer(start_server, INKWELL_RATE_LIMIT_TEXT_BYTES="3000/hour") as ann:
        post = ann.create("A", "x" * 1_500)["data"]["createPost"]["post"]  # 1,501 bytes
        published = ann.call(
            ops.PUBLISH_POST, {"input": {"postId": post["id"], "expectedVersion": 1}}
        )
        assert "errors" not in published, published

        def comment(writer: Writer, body: str) -> dict[str, Any]:
            return writer.call(ops.ADD_COMMENT, {"input": {"postId": post["id"], "body": body}})

        # A write refused after its charge stored nothing: the charge is given back.
        for _ in range(3):
            stale = {"postId": post["id"], "expectedVersion": 99, "content": "u" * 1_000}
            (error,) = ann.call(ops.UPDATE_POST, {"input": stale})["errors"]
            assert error["extensions"]["code"] == "CONFLICT", error

        assert "errors" not in comment(ann, "é" * 400)  # 800 bytes: 2,301
        before = event_count(tmp_path)
        (error,) = comment(ann, "y" * 800)["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert "bytes of text stored" in error["message"]
        # Another user of the same address: their own count has room, the address's not.
        bob = Writer(ann.client, "Bob")
        (error,) = bob.create("B", "z" * 800)["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert "bytes of text stored from here" in error["message"]
        assert event_count(tmp_path) == before + 1  # Bob's registration alone
        (error,) = bob.create("C", "w" * 3_000)["errors"]  # more than a whole budget
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "content"}
