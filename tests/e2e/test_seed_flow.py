"""The seed's demonstration, over real HTTP against a real server process."""

from __future__ import annotations

from harness.server_process import ServerProcess
from tests.support import operations as ops
from tests.support.api import http_api

CREATE = "mutation($input: CreatePostInput!) { createPost(input: $input) { position postId } }"
PUBLISH = "mutation($input: PostCommandInput!) { publishPost(input: $input) { position } }"
READ = "query($id: ID!) { post(id: $id) { id title status } }"


def test_create_query_publish_query_with_eventual_and_read_your_writes_consistency(
    server: ServerProcess,
) -> None:
    api = http_api(server)
    ann = api.register("Ann")

    created = api.ok(CREATE, {"input": {"title": "CQRS", "content": "Two models"}}, token=ann.token)
    post_id, position = created["createPost"]["postId"], created["createPost"]["position"]
    # Without the header the read side answers with what it holds now: maybe not the post yet.
    maybe = api.ok(READ, {"id": post_id}, token=ann.token)["post"]
    assert maybe is None or maybe["status"] == "DRAFT"
    # With it, the answer waits until the projections have applied the write.
    consistent = {"X-Consistent-With": position}
    post = api.ok(READ, {"id": post_id}, token=ann.token, headers=consistent)["post"]
    assert post == {"id": post_id, "title": "CQRS", "status": "DRAFT"}

    published = api.ok(PUBLISH, {"input": {"postId": post_id}}, token=ann.token)
    after = {"X-Consistent-With": published["publishPost"]["position"]}
    recent = api.ok(ops.RECENT, headers=after)["recentPosts"]
    assert [edge["node"]["title"] for edge in recent["edges"]] == ["CQRS"]
    by_author = api.ok(ops.BY_AUTHOR, {"authorId": ann.id}, headers=after)["postsByAuthor"]
    assert [edge["node"]["id"] for edge in by_author["edges"]] == [post_id]
