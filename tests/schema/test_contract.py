"""The served schema keeps every promise of the API contract (names, arguments, nullability)."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import build_schema, find_breaking_changes

from schema import build_schema as build_served_schema

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
