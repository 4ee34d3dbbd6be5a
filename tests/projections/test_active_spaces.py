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
    spaces.saw(after_swap, "users", "new", 7)
    spaces.saw(before_swap, "users", "old", 7)  # a rebuild at the same position
    assert spaces.get("users") == "new"
    spaces.saw(before_swap, "users", None, 0)  # nor does an older read that found none
    assert spaces.get("users") == "new"


def test_a_read_begun_first_but_sent_after_the_swap_is_not_overruled_by_one_sent_before() -> None:
    """The bug it fixes: the poller's read waited for a connection and was sent after a
    rebuild's swap; ActiveNamespaces' read, begun after it and sent before the swap, was
    taken first. The later number put back "no space", and the registerUser that the
    poller released read an empty space: NOT_FOUND. The checkpoint read with each says
    which Redis ran later."""
    spaces = ActiveSpaces()
    poller, refresh = spaces.read(), spaces.read()
    spaces.saw(refresh, "users", None, 0)  # before the swap
    spaces.saw(poller, "users", "users.1", 1)  # after it: the swap set checkpoint 1
    assert spaces.get("users") == "users.1"
    # Taken the other way round, the same holds.
    spaces = ActiveSpaces()
    poller, refresh = spaces.read(), spaces.read()
    spaces.saw(poller, "users", "users.1", 1)
    spaces.saw(refresh, "users", None, 0)
    assert spaces.get("users") == "users.1"


def test_a_read_begun_after_a_reply_was_taken_rules_whatever_it_found() -> None:
    spaces = ActiveSpaces()
    spaces.saw(spaces.read(), "users", "first", 5)
    spaces.saw(spaces.read(), "users", "second", 5)
    assert spaces.get("users") == "second"
    spaces.saw(spaces.read(), "users", "restored", 3)  # a log restored from a backup
    assert spaces.get("users") == "restored"
    spaces.saw(spaces.read(), "users", None, 0)  # Redis lost the read models
    assert spaces.get("users") is None
    assert Keys("p", spaces).space("users") == "p:users"


def test_a_read_of_a_space_since_lost_rules_only_until_the_next_read() -> None:
    """Reads that overlapped a flush: the one from before it found the higher checkpoint
    and rules, until a read begun after both replies finds no space."""
    spaces = ActiveSpaces()
    before_flush, after_flush = spaces.read(), spaces.read()
    spaces.saw(after_flush, "users", None, 0)
    spaces.saw(before_flush, "users", "users.1", 9)
    assert spaces.get("users") == "users.1"
    spaces.saw(spaces.read(), "users", None, 0)
    assert spaces.get("users") is None


def test_each_projection_is_followed_apart() -> None:
    spaces = ActiveSpaces()
    older, newer = spaces.read(), spaces.read()
    spaces.saw(newer, "users", "users.2", 4)
    spaces.saw(older, "posts", "posts.1", 2)  # no later read of posts was taken
    assert (spaces.get("users"), spaces.get("posts")) == ("users.2", "posts.1")


def test_a_rebuilds_keys_are_a_copy() -> None:
    keys = Keys("p", ActiveSpaces({"users": "p:users.1"}))
    building = keys.with_space("users", "p:users.2")
    assert (building.space("users"), keys.space("users")) == ("p:users.2", "p:users.1")
    keys.spaces.saw(keys.spaces.read(), "posts", "p:posts.1", 1)
    assert building.space("posts") == "p:posts"
