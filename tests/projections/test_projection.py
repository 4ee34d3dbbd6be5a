"""A projection's registry: one function per event type, and only those types applied."""

from __future__ import annotations

import pytest

from domain.events import PostCreated, UserRegistered
from projections.projectors import users


def test_a_second_function_for_one_event_type_is_refused() -> None:
    with pytest.raises(ValueError, match="users applies UserRegistered already"):
        users.PROJECTION.on(UserRegistered, users.on_user_registered)


def test_registering_leaves_the_projection_it_extends_as_it_was() -> None:
    def ignore(_event: PostCreated, _recorded: object, _tx: object) -> None: ...

    extended = users.PROJECTION.on(PostCreated, ignore)
    assert PostCreated in extended.handlers
    assert PostCreated not in users.PROJECTION.handlers
