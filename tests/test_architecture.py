"""The dependency rules between the packages (RULES below), checked on the import statements
of every module; docs/architecture.md explains the layers."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OURS = {
    "domain",
    "eventstore",
    "projections",
    "schema",
    "auth",
    "infra",
    "web",
    "server",
    "observability",
    "cli",
    "wiring",
}

# Third-party libraries a folder that bans them all may still import: pure functions over
# text, no I/O, standing in for what the standard library lacks. The domain checks an
# avatar URL's punycode labels with idna (IDNA 2008 and UTS 46: domain/avatar_hosts.py).
PURE = {"domain": {"idna"}}

# For each folder: what of ours it may import, and which third-party libraries it must not.
RULES: dict[str, tuple[set[str], set[str]]] = {
    "domain": ({"domain"}, {"*"}),
    "auth": ({"auth"}, {"*"}),
    "eventstore": ({"eventstore", "domain"}, {"redis", "strawberry", "starlette"}),
    "projections": ({"projections", "domain"}, {"sqlalchemy", "strawberry", "starlette"}),
    "schema": ({"schema", "domain", "projections", "auth"}, {"sqlalchemy", "redis"}),
    # Operations see the domain's records and the key layout; they never run GraphQL.
    "observability": ({"observability", "domain", "projections"}, {"strawberry"}),
    # The commands start Inkwell through wiring/ and print what they find; the schema only
    # for its SDL, never strawberry itself.
    "cli": (
        {
            "cli",
            "domain",
            "eventstore",
            "projections",
            "observability",
            "infra",
            "schema",
            "wiring",
        },
        {"strawberry"},
    ),
    # The composition root knows every package, and none of its callers.
    "wiring": (OURS - {"cli", "server"}, set()),
    "web": ({"web"}, {"sqlalchemy", "redis"}),
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def violations() -> list[str]:
    found = []
    for folder, (allowed_ours, banned) in RULES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            for name in imports_of(path) - {"__future__"} - PURE.get(folder, set()):
                module = path.relative_to(ROOT)
                if name in OURS and name not in allowed_ours:
                    found.append(f"{module} imports {name}")
                elif (
                    name not in OURS
                    and name not in sys.stdlib_module_names
                    and ("*" in banned or name in banned)
                ):
                    found.append(f"{module} imports third-party {name}")
    return found


def test_each_folder_imports_only_what_its_layer_allows() -> None:
    assert violations() == []


def test_the_checker_catches_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import sqlalchemy\nfrom projections.keyspace.keys import Keys\n")
    assert imports_of(sample) == {"sqlalchemy", "projections"}


# Inside projections/, each subpackage may import itself and the ones before it, never one
# after it: readers serve queries without the machinery that writes, and nothing that runs
# in the app needs the operators' tools. Under them all, the Redis plumbing both sides use.
PROJECTIONS_LAYERS = ("redisio", "keyspace", "readers", "live", "projectors", "tools")


def projection_layer_violations() -> list[str]:
    found = []
    for rank, layer in enumerate(PROJECTIONS_LAYERS):
        later = set(PROJECTIONS_LAYERS[rank + 1 :])
        for path in sorted((ROOT / "projections" / layer).rglob("*.py")):
            for name in modules_imported_by(path):
                parts = name.split(".")
                if parts[0] == "projections" and len(parts) > 1 and parts[1] in later:
                    found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


def test_projections_subpackages_import_only_the_layers_before_them() -> None:
    subpackages = {p.name for p in (ROOT / "projections").iterdir() if (p / "__init__.py").exists()}
    assert subpackages == set(PROJECTIONS_LAYERS), "a new subpackage needs its place in the layers"
    assert projection_layer_violations() == []


def modules_imported_by(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_tests_and_benchmarks_share_helpers_only_through_their_homes() -> None:
    """Tests import helpers from tests/support/ (never another test module or a conftest);
    bench/ never imports tests/, and tests/ never imports bench/: what both need is in harness/."""
    found = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for name in modules_imported_by(path):
            if name.split(".")[0] == "bench" or (
                name.startswith("tests") and not name.startswith("tests.support")
            ):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    for path in sorted((ROOT / "bench").rglob("*.py")):
        found += [
            f"{path.relative_to(ROOT)} imports {name}"
            for name in modules_imported_by(path)
            if name.split(".")[0] == "tests"
        ]
    assert found == []
