"""The vendored browser files: the bytes strawberry's page pins, with their licences, and a
refresh that writes only what verifies (run offline here, with a stand-in for `npm pack`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.pages import references, sri
from web import vendor
from web.assets import GRAPHQL_WS, PACKAGES, PLAYGROUND, VENDOR_DIR, WEB_DIR


def in_place(spec: str, path: str) -> bytes:
    """Serves the vendored files back as if from their packages; licences are stand-ins."""
    if path.startswith("LICENSE"):
        return f"licence of {spec}\n".encode()
    return (VENDOR_DIR / spec / path).read_bytes()


def test_vendored_files_are_the_bytes_strawberrys_page_pins() -> None:
    pins = vendor.strawberry_pins()
    for package in PLAYGROUND:
        for file in package.files:
            assert sri(package.path(file).read_bytes()) == pins[package.cdn_url(file)]
    vendor.check()


def test_every_vendored_package_carries_its_licence() -> None:
    for package in PACKAGES:
        text = package.path("LICENSE").read_text()
        assert "Permission is hereby granted, free of charge" in text, package.spec


def test_the_vendor_folder_holds_exactly_the_listed_files() -> None:
    listed = {package.relative(file) for package in PACKAGES for file in package.files}
    listed |= {package.compressed(file) for package in PACKAGES for file in package.files}
    listed |= {package.relative("LICENSE") for package in PACKAGES}
    on_disk = {path.relative_to(VENDOR_DIR) for path in VENDOR_DIR.rglob("*") if path.is_file()}
    assert on_disk == listed


def test_the_live_page_loads_graphql_ws_by_its_pinned_hash() -> None:
    (file,) = GRAPHQL_WS.files
    (script,) = [
        ref for ref in references((WEB_DIR / "live.html").read_text()) if "graphql-ws" in ref.url
    ]
    assert script.url == GRAPHQL_WS.url(file)
    assert script.integrity == GRAPHQL_WS.integrity[file] == sri(GRAPHQL_WS.path(file).read_bytes())


def test_a_refresh_makes_the_folder_hold_exactly_the_verified_files(tmp_path: Path) -> None:
    stale = tmp_path / "graphiql@3.8.2" / "graphiql.min.js"
    stale.parent.mkdir()
    stale.write_text("old")
    vendor.write(vendor.wanted(in_place), root=tmp_path)
    assert not stale.parent.exists()
    for package in PACKAGES:
        for file in package.files:
            written = tmp_path / package.relative(file)
            assert written.read_bytes() == package.path(file).read_bytes()
    explorer = (tmp_path / PLAYGROUND[4].relative("LICENSE")).read_text()
    assert "licence of graphiql@3.8.3" in explorer
    assert "licence of graphiql-explorer@0.9.0" in explorer


def test_a_refresh_refuses_a_file_that_is_not_the_pinned_one() -> None:
    def tampered(spec: str, path: str) -> bytes:
        data = in_place(spec, path)
        return data + b"\n/* evil */" if path == "graphiql.min.js" else data

    culprit = re.escape("graphiql@3.8.3/graphiql.min.js")
    with pytest.raises(vendor.VerificationFailed, match=culprit):
        vendor.wanted(tampered)


def test_a_refresh_refuses_a_file_nothing_pins() -> None:
    with pytest.raises(vendor.VerificationFailed, match="no SRI value pins"):
        vendor.wanted(in_place, pins={})
