"""Tags, search, the rename fan-out and paging under load, through the app."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.support import operations as ops
from tests.support.api import Account, Api
from tests.support.typed_text import fullwidth

CREATE = "mutation($i: CreatePostInput!) { createPost(input: $i) { postId position } }"
PUBLISH = "mutation($i: PostCommandInput!) { publishPost(input: $i) { position } }"


def quick_post(api: Api, author: Account, title: str, **fields: Any) -> tuple[str, str]:
    """Creates and publishes without waiting for the read models; returns (id, position)."""
    created = api.ok(CREATE, {"i": {"title": title, "content": "", **fields}}, token=author.token)
    post_id = created["createPost"]["postId"]
    published = api.ok(PUBLISH, {"i": {"postId": post_id}}, token=author.token)
    return post_id, published["publishPost"]["position"]


def titles(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["title"] for edge in connection["edges"]]


@pytest.fixture
def ann(api: Api) -> Account:
    return api.register("Ann")


def test_posts_by_tag_follow_tags_through_edits_and_archiving(api: Api, ann: Account) -> None:
    first = api.published_post(ann, "First", tags=["cqrs", "redis"])
    api.published_post(ann, "Second", tags=["CQRS"])
    api.create_post(ann, "Draft", tags=["cqrs"])
    assert titles(api.ok(ops.BY_TAG, {"tag": "cqrs"})["postsByTag"]) == ["Second", "First"]
    assert titles(api.ok(ops.BY_TAG, {"tag": "CQRS"})["postsByTag"]) == ["Second", "First"]

    edit = {"postId": first["id"], "expectedVersion": first["version"], "tags": ["redis"]}
    api.ok(ops.UPDATE_POST, {"input": edit}, token=ann.token)
    assert titles(api.ok(ops.BY_TAG, {"tag": "cqrs"})["postsByTag"]) == ["Second"]
    assert titles(api.ok(ops.BY_TAG, {"tag": "redis"})["postsByTag"]) == ["First"]
    api.ok(ops.ARCHIVE_POST, {"input": {"postId": first["id"]}}, token=ann.token)
    assert api.ok(ops.BY_TAG, {"tag": "redis"})["postsByTag"]["totalCount"] == 0


def test_search_finds_posts_holding_every_word_in_any_case(api: Api, ann: Account) -> None:
    api.published_post(ann, "Event sourcing with Redis", content="Streams and projections.")
    api.published_post(ann, "Redis pub/sub", content="At most once.", tags=["messaging"])
    api.published_post(ann, "Café culture", content="Croissants.")
    api.create_post(ann, "Redis draft", content="Unpublished.")

    def search(query: str) -> list[str]:
        return titles(api.ok(ops.SEARCH, {"query": query})["searchPosts"])

    assert search("redis") == ["Redis pub/sub", "Event sourcing with Redis"]
    assert search("REDIS Sourcing") == ["Event sourcing with Redis"]
    assert search("a redis x") == ["Redis pub/sub", "Event sourcing with Redis"]  # short words drop
    assert search("redis kafka") == []
    assert search("messaging") == ["Redis pub/sub"]  # tags count
    assert search("pub-sub!") == ["Redis pub/sub"]  # split on non-alphanumerics
    assert search("café") == ["Café culture"]
    assert search("projections streams") == ["Event sourcing with Redis"]  # content counts


def test_search_finds_a_word_however_it_was_typed_on_either_side(api: Api, ann: Account) -> None:
    """Fullwidth letters, invisible characters inside a word, "ß" against "ss", and an
    accent precomposed or combining (projections/keyspace/search_words.py)."""
    api.published_post(ann, "Plain", content="CQRS in Strasse, cafe\u0301 culture.")
    api.published_post(ann, "Fullwidth", content=f"{fullwidth('CQRS')} in der Straße.")
    api.published_post(ann, "Invisible", content="c\u200bq\u00adr\u2060s, the ca\ufefff\u00e9.")

    def search(query: str) -> list[str]:
        return titles(api.ok(ops.SEARCH, {"query": query})["searchPosts"])

    everywhere = ["Invisible", "Fullwidth", "Plain"]
    assert search("cqrs") == everywhere
    assert search(fullwidth("CQRS")) == everywhere
    assert search("cq\u200drs") == everywhere
    assert search("STRASSE") == search("straße") == ["Fullwidth", "Plain"]
    assert search("caf\u00e9") == search("cafe\u0301") == ["Invisible", "Plain"]
    assert search(f"{fullwidth('cqrs')} strasse caf\u00e9") == ["Plain"]


def test_a_search_without_a_real_word_is_bad_input(api: Api) -> None:
    assert api.error(ops.SEARCH, {"query": "a ! b"})["extensions"]["code"] == "BAD_USER_INPUT"


def test_an_edited_post_leaves_its_old_words_and_an_archived_one_leaves_the_index(
    api: Api, ann: Account
) -> None:
    post = api.published_post(ann, "Kafka streams", content="Partitions.")
    edit = {"postId": post["id"], "expectedVersion": post["version"], "title": "Redis streams"}
    edited = api.ok(ops.UPDATE_POST, {"input": edit}, token=ann.token)["updatePost"]["post"]
    assert titles(api.ok(ops.SEARCH, {"query": "kafka"})["searchPosts"]) == []
    assert titles(api.ok(ops.SEARCH, {"query": "redis partitions"})["searchPosts"]) == [
        "Redis streams"
    ]
    api.ok(ops.ARCHIVE_POST, {"input": {"postId": edited["id"]}}, token=ann.token)
    assert api.ok(ops.SEARCH, {"query": "streams"})["searchPosts"]["totalCount"] == 0


def test_search_results_page_newest_first(api: Api, ann: Account) -> None:
    for i in range(5):
        api.published_post(ann, f"Redis note {i}", content="cache")
    page = api.ok(ops.SEARCH, {"query": "redis cache", "first": 2})["searchPosts"]
    assert titles(page) == ["Redis note 4", "Redis note 3"] and page["totalCount"] == 5
    after = page["pageInfo"]["endCursor"]
    rest = api.ok(ops.SEARCH, {"query": "redis cache", "first": 5, "after": after})["searchPosts"]
    assert titles(rest) == ["Redis note 2", "Redis note 1", "Redis note 0"]


def test_a_rename_reaches_all_200_posts_and_every_comment_of_the_author(
    api: Api, ann: Account
) -> None:
    bob = api.register("Bob")
    post_ids = [quick_post(api, ann, f"Post {i}")[0] for i in range(200)]
    bobs_post = api.published_post(bob, "Bob's post")
    api.comment(ann, bobs_post["id"], "Ann was here")
    api.comment(ann, post_ids[0], "On my own post")

    api.ok(ops.UPDATE_PROFILE, {"input": {"name": "Ann Renamed"}}, token=ann.token)

    names: set[str] = set()
    after = None
    for _ in range(2):
        page = api.ok(ops.BY_AUTHOR, {"authorId": ann.id, "first": 100, "after": after})
        connection = page["postsByAuthor"]
        for edge in connection["edges"]:
            post = api.ok(ops.POST, {"id": edge["node"]["id"]})["post"]
            names.add(post["author"]["name"])
        after = connection["pageInfo"]["endCursor"]
    assert names == {"Ann Renamed"}
    for post_id in (bobs_post["id"], post_ids[0]):
        shown = api.ok(ops.POST_ENGAGEMENT, {"id": post_id})["post"]
        assert [c["author"]["name"] for c in shown["topComments"]] == ["Ann Renamed"]
        assert [e["node"]["author"]["name"] for e in shown["comments"]["edges"]] == ["Ann Renamed"]


POSITIONS = """query($id: ID!) { post(id: $id) { readModelPosition author { name }
  topComments { author { name } } } }"""


def test_a_profile_change_no_post_shows_changes_no_post(api: Api, ann: Account) -> None:
    """A new bio leaves the author's posts as they were: their positions too, so live
    subscribers get nothing and a feed resumed from before it has nothing to catch up
    on. A new name still reaches them."""
    post_id, _ = quick_post(api, ann, "Kept")
    bobs_post = api.published_post(api.register("Bob"), "Bob's")
    api.comment(ann, bobs_post["id"], "Ann was here")

    def shown() -> list[dict[str, Any]]:
        return [api.ok(POSITIONS, {"id": post})["post"] for post in (post_id, bobs_post["id"])]

    before = shown()
    for change in ({"bio": "New bio"}, {"bio": "Newer bio", "name": "Ann"}):
        position = api.ok(ops.UPDATE_PROFILE, {"input": change}, token=ann.token)
        headers = {"X-Consistent-With": str(position["updateProfile"]["position"])}
        api.ok(ops.RECENT, {"first": 1}, headers=headers)
        assert shown() == before, change

    renamed = api.ok(ops.UPDATE_PROFILE, {"input": {"name": "Ann R"}}, token=ann.token)
    headers = {"X-Consistent-With": str(renamed["updateProfile"]["position"])}
    api.ok(ops.RECENT, {"first": 1}, headers=headers)
    after = shown()
    assert [post["readModelPosition"] for post in after] == [
        int(renamed["updateProfile"]["position"])
    ] * 2
    assert after[0]["author"]["name"] == after[1]["topComments"][0]["author"]["name"] == "Ann R"


def test_paging_while_others_publish_sees_every_post_once(api: Api, ann: Account) -> None:
    existing = {quick_post(api, ann, f"Existing {i}")[0] for i in range(30)}
    api.ok(ops.RECENT, {"first": 1}, headers={"X-Consistent-With": str(1 + 2 * 30)})
    stop = threading.Event()

    def publish_meanwhile() -> None:
        i = 0
        while not stop.is_set():
            quick_post(api, ann, f"Arriving {i}")
            i += 1

    publisher = threading.Thread(target=publish_meanwhile)
    publisher.start()
    try:
        seen: list[str] = []
        after = None
        while True:
            page = api.ok(ops.RECENT, {"first": 4, "after": after})["recentPosts"]
            seen.extend(edge["node"]["id"] for edge in page["edges"])
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
    finally:
        stop.set()
        publisher.join()
    assert len(seen) == len(set(seen)), "a post was shown twice"
    assert existing <= set(seen), "a post that existed when paging started was skipped"
