"""The memoizing name converter names everything as strawberry's own converter does."""

from __future__ import annotations

from strawberry.schema.name_converter import NameConverter

from schema.names import MemoizedNameConverter
from schema.served import build_schema


def test_it_converts_as_strawberry_does_each_time() -> None:
    memoized, stock = MemoizedNameConverter(), NameConverter()
    for name in ("post_id", "command_id", "first", "x_2_y", "_private", "already_camelCase"):
        assert memoized.apply_naming_config(name) == stock.apply_naming_config(name)
        assert memoized.apply_naming_config(name) == stock.apply_naming_config(name)


def test_a_remembered_name_follows_the_camel_case_flag() -> None:
    """strawberry's config sets `auto_camel_case` on the converter after making it."""
    converter = MemoizedNameConverter()
    assert converter.apply_naming_config("post_id") == "postId"
    converter.auto_camel_case = False
    assert converter.apply_naming_config("post_id") == "post_id"


def test_the_schema_converts_input_arguments_with_it() -> None:
    schema = build_schema()
    assert isinstance(schema.config.name_converter, MemoizedNameConverter)
    assert "createPost(input: CreatePostInput!)" in schema.as_str()
