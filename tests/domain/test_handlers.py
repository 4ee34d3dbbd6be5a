"""The handler registry: one handler per command type, found by the command's type."""

from __future__ import annotations

import pytest

from domain.commands import CreatePost, RegisterUser
from domain.handlers import HANDLERS, Handlers, create_post, register_user


def test_each_command_finds_the_handler_registered_for_its_type() -> None:
    assert HANDLERS.for_command(CreatePost("Title", "Body")) is create_post
    assert HANDLERS.for_command(RegisterUser("Ann")) is register_user


def test_a_second_handler_for_one_command_type_is_refused() -> None:
    with pytest.raises(ValueError, match="CreatePost has a handler already"):
        HANDLERS.on(CreatePost, create_post)


def test_registering_leaves_the_registry_it_extends_as_it_was() -> None:
    empty = Handlers()
    empty.on(RegisterUser, register_user)
    with pytest.raises(KeyError):
        empty.for_command(RegisterUser("Ann"))
