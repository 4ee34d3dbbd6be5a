"""Mutation inputs built straight from their GraphQL values (schema/inputs.py `flat`) are
what strawberry's own conversion makes of the same values."""

from __future__ import annotations

import enum
from typing import Any

import pytest
import strawberry
from strawberry.types.arguments import convert_arguments
from strawberry.types.base import get_object_definition

from schema.inputs import flat
from schema.mutations import Mutation
from schema.served import build_schema

SCHEMA = build_schema()
VALUES: dict[str, list[dict[str, Any]]] = {
    "create_post": [
        {"title": "T", "content": "C"},
        {"title": "T", "content": "C", "tags": ["a", "b"], "commandId": "cmd-1"},
        {"title": "", "content": "", "tags": None, "commandId": None},
        {"title": "T", "content": "C", "tags": []},
    ],
    "update_post": [
        {"postId": "p1", "expectedVersion": 3},
        {"postId": "p1", "expectedVersion": 0, "title": "New", "content": None, "tags": ["x"]},
    ],
    "like_post": [{"postId": "p1"}, {"postId": "p1", "expectedVersion": None}],
    "register_user": [{"name": "Ann"}, {"name": "Ann", "avatarUrl": "", "bio": "B"}],
    "update_profile": [{}, {"avatarUrl": ""}, {"name": None}],
    "add_comment": [{"postId": "p1", "body": "Hi", "commandId": "c"}],
    "delete_comment": [{"commentId": "c1"}],
}


def converted(mutation: str, value: dict[str, Any]) -> Any:
    definition = get_object_definition(Mutation, strict=True)
    field = next(f for f in definition.fields if f.python_name == mutation)
    registry = SCHEMA.schema_converter.scalar_registry
    return convert_arguments({"input": value}, field.arguments, registry, SCHEMA.config)["input"]


@pytest.mark.parametrize(
    ("mutation", "value"), [(m, v) for m, values in VALUES.items() for v in values]
)
def test_an_input_is_what_strawberrys_conversion_makes(
    mutation: str, value: dict[str, Any]
) -> None:
    built = converted(mutation, value)
    definition = get_object_definition(type(built), strict=True)
    direct, definition.from_input = definition.from_input, None  # strawberry's own way
    try:
        assert direct is not None
        assert built == converted(mutation, value)
    finally:
        definition.from_input = direct


def test_a_list_is_copied_so_a_shared_default_never_changes() -> None:
    tags = ["a"]
    built = converted("create_post", {"title": "T", "content": "C", "tags": tags})
    built.tags.append("b")
    assert tags == ["a"]


class Colour(enum.Enum):
    RED = "red"


@strawberry.input
class Inner:
    name: str


@pytest.mark.parametrize("annotation", [Colour, Inner, list[Inner], "JSON"])
def test_a_field_that_needs_strawberrys_conversion_is_refused(annotation: Any) -> None:
    kind = strawberry.scalars.JSON if annotation == "JSON" else annotation

    class Odd:
        __annotations__ = {"field": kind}

    with pytest.raises(TypeError, match=r"Odd\.field needs strawberry's conversion"):
        flat(Odd)
