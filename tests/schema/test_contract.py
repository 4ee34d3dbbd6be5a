"""The served schema keeps every promise of the API contract (names, arguments, nullability)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLSchema, build_schema, find_breaking_changes, introspection_from_schema

from schema.served import build_schema as build_served_schema

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "docs" / "api-contract.graphql"
# The design card's original, beside the project when checked out in its workspace.
ORIGINAL = ROOT.parent / "shared" / "design" / "api-contract.graphql"


def test_the_served_schema_breaks_nothing_of_the_contract() -> None:
    contract = build_schema(CONTRACT.read_text())
    served = build_schema(build_served_schema().as_str())
    breaking = {
        (change.type, change.description) for change in find_breaking_changes(contract, served)
    }
    assert breaking == set()


def defaults(schema: GraphQLSchema) -> dict[str, str | None]:
    """Every argument's and input field's default as introspection shows it, by path."""
    found: dict[str, str | None] = {}
    introspection: dict[str, Any] = dict(introspection_from_schema(schema))
    for kind in introspection["__schema"]["types"]:
        if kind["name"].startswith("__"):
            continue
        for field in kind.get("inputFields") or []:
            found[f"{kind['name']}.{field['name']}"] = field["defaultValue"]
        for field in kind.get("fields") or []:
            for argument in field["args"]:
                path = f"{kind['name']}.{field['name']}({argument['name']})"
                found[path] = argument["defaultValue"]
    return found


def test_every_default_of_the_contract_is_served_as_declared() -> None:
    """`after: String` has no default; strawberry served `after: String = null`, which
    find_breaking_changes does not see and introspection shows (`defaultValue: "null"`)."""
    contract = defaults(build_schema(CONTRACT.read_text()))
    served = defaults(build_served_schema()._schema)
    assert {path: served.get(path, "missing") for path in contract} == contract
    assert contract["Query.recentPosts(after)"] is None
    assert contract["Query.recentPosts(first)"] == "20"


def test_the_check_notices_a_dropped_field() -> None:
    contract = build_schema(CONTRACT.read_text())
    served = build_schema(build_served_schema().as_str().replace("  likeCount: Int!\n", "", 1))
    assert any(
        "likeCount" in change.description for change in find_breaking_changes(contract, served)
    )


@pytest.mark.skipif(
    not ORIGINAL.exists(), reason="the design card's copy is not beside this checkout"
)
def test_the_repository_copy_of_the_contract_is_the_design_cards() -> None:
    assert CONTRACT.read_text() == ORIGINAL.read_text()
