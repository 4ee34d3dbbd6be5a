"""Which space each projection is read from, as reads that finish out of order report it
(projections/keyspace/active_spaces.py)."""

from __future__ import annotations

from projections.keyspace.active_spaces import ActiveSpaces
from projections.keyspace.keys import Keys


def test_a_read_sent_before_a_later_one_that_was_taken_first_changes_nothing() -> None:
    """The bug it fixes: ActiveNamespaces' read, sent before a rebuild's swap, taken after
    the read-your-writes poller's read of the new space, put the replaced space back."""
    spaces = ActiveSpaces({"users": "old"})
    before_swap, after_swap = spaces.read(), spaces.read()
    spaces.saw(after_swap, "users", "new")
    spaces.saw(before_swap, "users", "old")
    assert spaces.get("users") == "new"
    spaces.saw(before_swap, "users", None)  # nor does an older read that found none
    assert spaces.get("users") == "new"


def test_the_latest_read_rules_whatever_it_found() -> None:
    spaces = ActiveSpaces()
    spaces.saw(spaces.read(), "users", "first")
    spaces.saw(spaces.read(), "users", "second")
    assert spaces.get("users") == "second"
    spaces.saw(spaces.read(), "users", None)  # Redis lost the read models
    assert spaces.get("users") is None
    assert Keys("p", spaces).space("users") == "p:users"


def test_each_projection_is_followed_apart() -> None:
    spaces = ActiveSpaces()
    older, newer = spaces.read(), spaces.read()
    spaces.saw(newer, "users", "users.2")
    spaces.saw(older, "posts", "posts.1")  # no later read of posts was taken
    assert (spaces.get("users"), spaces.get("posts")) == ("users.2", "posts.1")


def test_a_rebuilds_keys_are_a_copy() -> None:
    keys = Keys("p", ActiveSpaces({"users": "p:users.1"}))
    building = keys.with_space("users", "p:users.2")
    assert (building.space("users"), keys.space("users")) == ("p:users.2", "p:users.1")
    keys.spaces.saw(keys.spaces.read(), "posts", "p:posts.1")
    assert building.space("posts") == "p:posts"
