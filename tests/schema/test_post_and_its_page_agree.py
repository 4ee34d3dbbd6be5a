"""A post and its comments page are two reads: what is projected between them does not
make one answer disagree with itself (schema/types.py, Post._as_read).

An outside probe watched a post's subscription while two clients commented: 2 to 10
items a run gave commentCount 3 beside 4 comments. Here a comment is committed and
projected exactly between the two reads, through the app's own bus and projectors."""

from __future__ import annotations

from typing import Any

from domain.bus import Caller
from domain.commands import AddComment
from tests.support.api import Api

ADD_COMMENT = """
mutation($input: AddCommentInput!) { addComment(input: $input) { position } }"""

POST_WITH_PAGE = """
query($id: ID!) {
  post(id: $id) {
    commentCount
    comments(last: 100) { totalCount edges { node { body } } }
  }
}"""


def test_a_comment_projected_between_the_post_and_its_page_is_left_out(api: Api) -> None:
    ann = api.register("Ann")
    post = api.published_post(ann, "Kept")
    api.ok(ADD_COMMENT, {"input": {"postId": post["id"], "body": "First"}}, token=ann.token)
    services: Any = api.client.app.state.services  # type: ignore[attr-defined]
    comment_pages = services.reads.comment_pages
    projected: list[int] = []

    async def one_projected_first(*args: Any) -> Any:
        if not projected:
            later = AddComment(post_id=post["id"], body="Later")
            outcome = await services.bus.dispatch(later, Caller(ann.id, "between"))
            await services.consistency.wait_for(outcome.position, 10)
            projected.append(outcome.position)
        return await comment_pages(*args)

    services.reads.comment_pages = one_projected_first
    read = api.ok(POST_WITH_PAGE, {"id": post["id"]})["post"]

    assert projected
    assert read["commentCount"] == read["comments"]["totalCount"] == 1
    assert [edge["node"]["body"] for edge in read["comments"]["edges"]] == ["First"]
    again = api.ok(POST_WITH_PAGE, {"id": post["id"]})["post"]
    assert again["commentCount"] == again["comments"]["totalCount"] == 2
    assert [edge["node"]["body"] for edge in again["comments"]["edges"]] == ["First", "Later"]
