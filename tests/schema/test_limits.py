"""Protective limits: a query too deep, too wide or too long is QUERY_TOO_COMPLEX; a number
literal too long for any scalar is GRAPHQL_VALIDATION_FAILED."""

from __future__ import annotations

import logging

import pytest
from graphql import get_introspection_query

from schema.limits.literals import MAX_NUMBER
from schema.operations import MAX_ERRORS
from schema.served import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS
from tests.support.api import Api

DEEPEST = """{ user(id: "00000000-0000-4000-8000-000000000000") { posts { edges { node {
  comments { edges { node { author { name } } } } } } } } }"""


def test_the_deepest_query_the_schema_allows_is_within_the_limit(api: Api) -> None:
    assert api.ok(DEEPEST) == {"user": None}


def test_a_query_deeper_than_the_limit_is_too_complex(api: Api) -> None:
    fields = ["viewer", *["posts"] * MAX_DEPTH]
    query = "{ " + " { ".join(fields) + " { id }" + " }" * len(fields)
    codes = {error["extensions"]["code"] for error in api.call(query)["errors"]}
    assert "QUERY_TOO_COMPLEX" in codes


def test_too_many_aliases_are_too_complex(api: Api) -> None:
    query = "{ " + " ".join(f"a{i}: viewer {{ id }}" for i in range(MAX_ALIASES + 1)) + " }"
    assert api.error(query)["extensions"]["code"] == "QUERY_TOO_COMPLEX"


def test_a_fragment_no_operation_spreads_is_held_to_the_limits_too(api: Api) -> None:
    """graphql-core's rules check it before refusing it as unused: 600 copies of one field
    in it cost its overlapping-fields check 1.2-2.5 s of the event loop, answered
    "Validation aborted." at the end (an outside probe)."""
    repeats = " ".join("viewer { posts { totalCount } }" for _ in range(600))
    error = api.error(f"{{ __typename }} fragment Unused on Query {{ {repeats} }}")
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert "one field is selected 21 times in one selection set" in error["message"]


def nested(*levels: tuple[str, int]) -> str:
    """`name` repeated `count` times at each level, each holding the next level."""
    (name, count), *rest = levels
    inner = f" {{ {nested(*rest)} }}" if rest else ""
    return " ".join(f"{name}{inner}" for _ in range(count))


@pytest.mark.parametrize(
    ("levels", "said"),
    [
        # A re-check probe's: 0.3-0.7 s of graphql-core's overlapping-fields check.
        ((("viewer", 11), ("posts", 20), ("totalCount", 19)), "multiply to 380"),
        ((("viewer", 20), ("posts", 20), ("totalCount", 1)), "multiply to 400"),  # 0.7 s
        ((("viewer", 8), ("posts", 8), ("totalCount", 1)), "multiply to 64"),
    ],
)
def test_repeats_within_repeats_are_too_complex_though_each_level_is_within_its_limit(
    api: Api, levels: tuple[tuple[str, int], ...], said: str
) -> None:
    for document in (
        f"{{ {nested(*levels)} }}",
        f"{{ __typename }} fragment Unused on Query {{ {nested(*levels)} }}",
    ):
        error = api.error(document)
        assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert said in error["message"], error["message"]


def test_fragments_that_select_the_same_fields_are_within_the_overlap_limits(api: Api) -> None:
    """What fragment-per-component clients send: the same fields from many fragments."""
    fragments = " ".join(
        f"fragment F{n} on Post {{ id title author {{ id name }} comments {{ totalCount }} }}"
        for n in range(12)
    )
    spreads = " ".join(f"...F{n}" for n in range(12))
    document = f'{{ post(id: "00000000-0000-4000-8000-000000000000") {{ {spreads} }} }} {fragments}'
    assert api.ok(document) == {"post": None}


LEAVES = ("id", "title", "content", "version", "status", "commentCount", "likeCount")


def side_by_side(count: int, spread: str = "...F{n}") -> str:
    """`count` one-field fragments spread in one selection set, each written `spread`."""
    fragments = " ".join(f"fragment F{n} on Post {{ {LEAVES[n % 7]} }}" for n in range(count))
    spreads = " ".join(spread.format(n=n) for n in range(count))
    return f'{{ post(id: "00000000-0000-4000-8000-000000000000") {{ {spreads} }} }} {fragments}'


@pytest.mark.parametrize("spread", ["...F{n}", "... {{ ...F{n} }}"], ids=["bare", "in inline"])
def test_fragments_spread_side_by_side_are_limited_by_their_pairs(api: Api, spread: str) -> None:
    """graphql-core compares every pair, those in inline fragments as the set's own: 280 of
    them, within every other limit, took 150 ms of the event loop a request (re-check
    probes; the inline form got past the first fix)."""
    error = api.error(side_by_side(280, spread))
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert "fragments spread side by side make 78400 pairs" in error["message"]
    assert api.ok(side_by_side(50, spread)) == {"post": None}


def test_a_document_of_too_many_tokens_is_too_complex(api: Api) -> None:
    query = "{ viewer { " + "id " * MAX_TOKENS + "} }"
    assert api.error(query)["extensions"]["code"] == "QUERY_TOO_COMPLEX"


def test_the_playgrounds_introspection_query_is_within_the_limits(api: Api) -> None:
    body = api.call(get_introspection_query(descriptions=True))
    assert "errors" not in body and body["data"]["__schema"]["queryType"]["name"] == "Query"


NINES = "9" * 4_301  # one digit past Python's guard on int() (sys.get_int_max_str_digits)
ID = "00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    "query",
    [
        f"{{ recentPosts(first: {NINES}) {{ totalCount }} }}",
        f"{{ recentPosts(first: -{NINES}) {{ totalCount }} }}",
        f"query($f: Int = {NINES}) {{ recentPosts(first: $f) {{ totalCount }} }}",
        f"{{ popularPosts(first: {NINES}) {{ id }} }}",
        f'mutation {{ publishPost(input: {{postId: "{ID}", expectedVersion: {NINES}}}) '
        "{ position } }",
        f"{{ nodes(ids: [{NINES}]) {{ id }} }}",
        f"{{ post(id: {NINES}) {{ id }} }}",
        f"{{ recentPosts(first: 1.{NINES}) {{ totalCount }} }}",
        f"{{ recentPosts(first: 1e{NINES}) {{ totalCount }} }}",
        f"{{ recentPosts(first: {NINES[:-1]}) {{ totalCount }} }}",  # at the guard: was echoed
    ],
)
def test_a_number_literal_too_long_for_any_scalar_is_a_validation_error(
    api: Api, query: str, caplog: pytest.LogCaptureFixture
) -> None:
    """int() refuses an Int literal over 4,300 digits with a ValueError: it was an
    INTERNAL_SERVER_ERROR and a logged traceback, and one of 4,300 came back whole."""
    with caplog.at_level(logging.WARNING, logger="schema"):
        error = api.error(query)
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert error["message"].startswith("The number '")
    assert "characters) is longer than any value this API takes" in error["message"]
    assert len(error["message"]) < 200
    assert not [record for record in caplog.records if record.name == "schema"]


def test_a_long_number_is_pointed_at_where_it_stands(api: Api) -> None:
    query = f"{{ recentPosts(first: 5) {{ totalCount }} a: recentPosts(first: {NINES}) {{ id }} }}"
    error = api.error(query)
    assert error["locations"] == [{"line": 1, "column": query.index(NINES) + 1}]


@pytest.mark.parametrize("digits", [12, MAX_NUMBER])
def test_a_number_up_to_the_limit_is_left_to_graphqls_own_rule(api: Api, digits: int) -> None:
    error = api.error(f"{{ recentPosts(first: {'9' * digits}) {{ totalCount }} }}")
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert error["message"].startswith("Int cannot represent non 32-bit signed integer value")


VARIABLES = "query(" + ",".join(f"$v{i}: Int" for i in range(101)) + ") { __typename }"
ARGUMENTS = (
    "{ recentPosts(first: 1, " + ", ".join(f"a{i}: 1" for i in range(20)) + ") { __typename } }"
)
DIRECTIVES = "query($b: Boolean!) { __typename " + " ".join(["@include(if: $b)"] * 9) + " }"
DIRECTIVE_ARGUMENTS = "{ __typename @skip(" + ", ".join(f"a{i}: 1" for i in range(21)) + ") }"
FIELDS = ", ".join(f"x{i}: 1" for i in range(25))
OBJECT_FIELDS = (
    f'mutation {{ createPost(input: {{title: "t", {FIELDS}, content: "c"}}) {{ position }} }}'
)
NESTED_OBJECT = f"query($v: [[CreatePostInput]] = [[{{ {FIELDS} }}]]) {{ __typename }}"


@pytest.mark.parametrize(
    ("query", "said"),
    [
        (VARIABLES, "the operation declares 101 variables, over the limit of 100"),
        (ARGUMENTS, "21 arguments to one field, over the limit of 20"),
        (DIRECTIVES, "9 directives on one node, over the limit of 8"),
        (DIRECTIVE_ARGUMENTS, "21 arguments to one field, over the limit of 20"),
        (OBJECT_FIELDS, "an input object of 27 fields, over the limit of 24"),
        (NESTED_OBJECT, "an input object of 25 fields, over the limit of 24"),
    ],
    ids=["variables", "arguments", "directives", "directive arguments", "object", "nested"],
)
def test_lists_the_standard_rules_walk_item_by_item_are_bounded(
    api: Api, query: str, said: str
) -> None:
    """Past the limit, each item wrong was an error of its own, with its location: 1,200
    unknown fields of one input object held the event loop 0.92 s, 800 unused variables
    46-110 ms (an outside probe). Refused before those rules run."""
    error = api.error(query)
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert said in error["message"]


def test_lists_within_their_limits_are_left_to_the_standard_rules(api: Api) -> None:
    variables = "query(" + ",".join(f"$v{i}: Int" for i in range(100)) + ") { __typename }"
    fields = ", ".join(f"x{i}: 1" for i in range(22))
    unknown = (
        f'mutation {{ createPost(input: {{title: "t", content: "c", {fields}}}) {{ position }} }}'
    )
    for query, says in [(variables, "is never used"), (unknown, "unknown field")]:
        *wrong, stopped = api.call(query)["errors"]
        assert len(wrong) == MAX_ERRORS  # of 100 and 22
        assert {error["extensions"]["code"] for error in wrong} == {"GRAPHQL_VALIDATION_FAILED"}
        assert all(says in error["message"] for error in wrong)
        assert "Validation aborted" in stopped["message"]


def test_a_fragment_name_defined_twice_has_both_definitions_held_to_the_limits(
    api: Api,
) -> None:
    """Only the last definition of a name was checked; graphql-core's rules walk both
    before refusing the name: 400 copies of one field in the first held the event loop
    0.34-0.6 s a request, and three addresses held another client at p50 2 s (a re-check
    probe)."""
    first = f"fragment U on Query {{ {' '.join(['viewer { id }'] * 400)} }}"
    again = "fragment U on Query { __typename }"
    for query in (f"{{ ...U }} {first} {again}", f"{{ __typename }} {first} {again}"):
        error = api.error(query)
        assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX", error
        assert "one field is selected 21 times in one selection set" in error["message"]
