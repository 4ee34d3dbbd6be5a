"""Refreshes web/static/vendor from the npm registry: `python -m web.vendor [--check]`.

Each file is taken from its package's tarball (`npm pack`, which checks the tarball
against the registry's integrity) and must hash to the SRI value that strawberry's
GraphiQL page pins for it, or that web/assets.py pins for files outside that page.
Nothing is written unless every file verifies. The vendor folder is then made to hold
exactly these files, each with its gzip copy (web/assets.py says why), and a LICENSE per
package.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from strawberry.http.ides import get_graphql_ide_html

from web.assets import PACKAGES, VENDOR_DIR, Package
from web.playground import pinned_hashes

# Returns the file at `path` inside the npm package `spec` ("name@version").
Fetch = Callable[[str, str], bytes]


class VerificationFailed(RuntimeError):
    pass


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def expected_hash(package: Package, file: str, pins: dict[str, str]) -> str:
    if found := pins.get(package.cdn_url(file)) or package.integrity.get(file):
        return found
    raise VerificationFailed(f"no SRI value pins {package.spec}/{file}")


def gzipped(data: bytes) -> bytes:
    """The same bytes for the same file every time (no timestamp), so a refresh that
    changes nothing changes no file."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def strawberry_pins() -> dict[str, str]:
    return pinned_hashes(get_graphql_ide_html("graphiql"))


def wanted(
    fetch: Fetch, packages: Iterable[Package] = PACKAGES, pins: dict[str, str] | None = None
) -> dict[Path, bytes]:
    """Every vendored file's bytes by its path under the vendor folder, each verified."""
    pins = strawberry_pins() if pins is None else pins
    files: dict[Path, bytes] = {}
    for package in packages:
        for file in package.files:
            data = fetch(package.spec, file)
            if (got := sri(data)) != (want := expected_hash(package, file, pins)):
                raise VerificationFailed(f"{package.spec}/{file} hashes to {got}, expected {want}")
            files[package.relative(file)] = data
            files[package.compressed(file)] = gzipped(data)
        files[package.relative("LICENSE")] = licence_text(package, fetch)
    return files


def licence_text(package: Package, fetch: Fetch) -> bytes:
    sources = package.licences()
    texts = [fetch(spec, path) for spec, path in sources]
    if len(sources) == 1 and sources[0][0] == package.spec:
        return texts[0]
    header = (
        f"Licence of {package.spec}, assembled by web/vendor.py from:\n"
        + "".join(f"  - {path} of the npm package {spec}\n" for spec, path in sources)
        + "\n"
    )
    return header.encode() + b"\n\n".join(texts)


def write(files: dict[Path, bytes], root: Path = VENDOR_DIR) -> None:
    """Makes `root` hold exactly `files` (paths relative to it)."""
    for path in root.rglob("*"):
        if path.is_file() and path.relative_to(root) not in files:
            path.unlink()
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def check(packages: Iterable[Package] = PACKAGES, pins: dict[str, str] | None = None) -> None:
    """Verifies the files in place against the pinned hashes, and their gzip copies
    against them, offline."""
    pins = strawberry_pins() if pins is None else pins
    for package in packages:
        for file in package.files:
            data = package.path(file).read_bytes()
            if (got := sri(data)) != (want := expected_hash(package, file, pins)):
                raise VerificationFailed(f"{package.path(file)} hashes to {got}, expected {want}")
            copy = VENDOR_DIR / package.compressed(file)
            if not copy.is_file() or gzip.decompress(copy.read_bytes()) != data:
                raise VerificationFailed(f"{copy} is not the gzip of {package.path(file)}")
        if not package.path("LICENSE").is_file():
            raise VerificationFailed(f"{package.path('LICENSE')} is missing")


class NpmPack:
    """Fetches files from package tarballs that `npm pack` downloads, once per package."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.tarballs: dict[str, Path] = {}

    def __call__(self, spec: str, path: str) -> bytes:
        with tarfile.open(self._tarball(spec)) as tarball:
            member = tarball.extractfile(f"package/{path}")
            if member is None:
                raise VerificationFailed(f"{spec} has no file {path}")
            return member.read()

    def _tarball(self, spec: str) -> Path:
        if spec not in self.tarballs:
            npm = shutil.which("npm") or sys.exit("npm is needed to refresh the vendored files")
            done = subprocess.run(
                [npm, "pack", spec, "--json", "--pack-destination", str(self.scratch)],
                check=True,
                capture_output=True,
                text=True,
            )
            self.tarballs[spec] = self.scratch / json.loads(done.stdout)[0]["filename"]
        return self.tarballs[spec]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify in place, download nothing")
    args = parser.parse_args(argv)
    if args.check:
        check()
    else:
        with tempfile.TemporaryDirectory(prefix="inkwell-vendor-") as scratch:
            write(wanted(NpmPack(Path(scratch))))
    for package in PACKAGES:
        for file in package.files:
            size = package.path(file).stat().st_size
            copy = (VENDOR_DIR / package.compressed(file)).stat().st_size
            print(f"{size:>10,}  {copy:>10,} gzipped  {package.spec}/{file}")
    print("verified against strawberry's GraphiQL page and web/assets.py")


if __name__ == "__main__":
    main()
