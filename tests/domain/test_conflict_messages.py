"""A CONFLICT's message names what moved in the API's terms (the ids the API gives), never the
event log's stream names (`post-<id>`, `like-<post>-<user>`)."""

from __future__ import annotations

import pytest

from domain import streams
from domain.errors import ConcurrencyError

# Fixed ids: pytest-xdist workers must collect the same parameters.
POST = "384f378a-9822-4583-9643-ed2410ab708b"
USER = "cfe4fb0c-b8ba-407e-8cce-0b284ef6ddd4"
COMMENT = "b5a2eab2-cd52-41e6-9cf0-7d39e0568e66"


@pytest.mark.parametrize(
    ("stream_id", "named"),
    [
        (streams.post(POST), f"post {POST}"),
        (streams.user(USER), f"user {USER}"),
        (streams.comment(COMMENT), f"comment {COMMENT}"),
        (streams.like(POST, USER), f"the like of post {POST} by user {USER}"),
    ],
    ids=["post", "user", "comment", "like"],
)
def test_a_conflict_names_the_thing_not_its_stream(stream_id: str, named: str) -> None:
    conflict = ConcurrencyError(stream_id, expected_version=7, current_version=2)
    assert str(conflict) == f"{named} is at version 2, not 7"
    assert conflict.stream_id == stream_id  # the bus still queues and forgets by stream
