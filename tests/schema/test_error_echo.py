"""No error message sends back more than an excerpt of what the client wrote: graphql-core
quoted unknown names, wrong literals and unknown input fields whole (about 200 KB each)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from graphql import GraphQLInputObjectType, GraphQLObjectType

from domain.errors import ECHO_MAX, ConcurrencyError
from schema.errors import MESSAGE_MAX, RUN_MAX, bounded
from schema.served import build_schema
from tests.support.api import Api

LONG = "x" * 120_000  # within the document limit (131,072 characters)
# The start of the name is kept (after its `$` or `@`), then how long it was.
CUT = f"{'x' * (ECHO_MAX - 1)}... ("
SPACED = "ab " * 40_000  # no long run: only the bound on the whole message cuts it


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (f"{{ {LONG} }}", None),
        (f"{{ recentPosts({LONG}: 1) {{ totalCount }} }}", None),
        (f"{{ recentPosts @{LONG} {{ totalCount }} }}", None),
        (f"query($a: {LONG}) {{ viewer {{ id }} }}", None),
        (f"{{ recentPosts(first: ${LONG}) {{ totalCount }} }}", None),
        (f"{{ ...{LONG} }}", None),
        (f'{{ recentPosts(first: "{LONG}") {{ totalCount }} }}', None),
        (f"{{ viewer {{ id }} }} {LONG}", None),  # Syntax Error: Unexpected Name '...'
        (
            "mutation($i: CreatePostInput!) { createPost(input: $i) { position } }",
            {"i": {"title": "t", "content": "c", LONG: 1}},
        ),
        ("query($f: Int) { recentPosts(first: $f) { totalCount } }", {"f": LONG}),
    ],
)
def test_a_long_name_or_value_is_cut_to_its_start_in_the_message(
    api: Api, query: str, variables: dict[str, Any] | None
) -> None:
    messages = [error["message"] for error in api.call(query, variables)["errors"]]
    assert any(CUT in message for message in messages), messages
    assert not [m for m in messages if "x" * (ECHO_MAX + 1) in m or len(m) > MESSAGE_MAX]


def test_the_rest_of_the_message_is_kept(api: Api) -> None:
    error = api.error(f"{{ {LONG} }}")
    assert error["message"] == f"Cannot query field 'x{CUT}120000 characters)' on type 'Query'."


def test_a_long_text_with_spaces_is_cut_with_the_whole_message(api: Api) -> None:
    error = api.error(f'{{ recentPosts(first: "{SPACED}") {{ totalCount }} }}')
    assert error["message"].startswith('Int cannot represent non-integer value: "ab ab ')
    assert error["message"].endswith("characters)")
    assert MESSAGE_MAX < len(error["message"]) < MESSAGE_MAX + 30


def test_no_name_in_the_schema_is_cut() -> None:
    """Messages name types, fields and arguments as `Type.field(argument:)`; the bound on a
    run must leave every one of them whole."""
    names = []
    for type_ in build_schema()._schema.type_map.values():
        names.append(type_.name)
        if isinstance(type_, GraphQLObjectType | GraphQLInputObjectType):
            for field_name, field in type_.fields.items():
                names.append(f"{type_.name}.{field_name}")
                names += [f"{type_.name}.{field_name}({a}:)" for a in getattr(field, "args", {})]
    assert max(len(name) for name in names) <= RUN_MAX
    for name in names:
        assert bounded(f"Unknown argument 'x' on field '{name}'.").count(name) == 1


def test_the_servers_own_ids_are_never_cut() -> None:
    stream = f"comment-{uuid.uuid4()}"
    message = str(ConcurrencyError(stream, 1, 2))
    assert bounded(message) == message
