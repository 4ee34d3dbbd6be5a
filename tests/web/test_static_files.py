"""The vendored files as browsers get them: gzipped when they accept it, kept for good, and
revalidated by ETag."""

from __future__ import annotations

import gzip

import pytest

from tests.support.api import Api
from web.assets import PLAYGROUND, VENDOR_DIR
from web.routes import accepts_gzip

GRAPHIQL = PLAYGROUND[3]  # graphiql@3.8.3
SCRIPT = GRAPHIQL.url("graphiql.min.js")


def test_a_vendored_script_goes_gzipped_to_a_browser_that_accepts_it(api: Api) -> None:
    """GraphiQL's script was sent whole (3.5 MB) to every client: 8 connections pulled
    6 GB of it in 20 s."""
    original = GRAPHIQL.path("graphiql.min.js").read_bytes()
    zipped = api.client.get(SCRIPT, headers={"accept-encoding": "gzip, deflate, br"})
    assert zipped.status_code == 200
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["content-type"].startswith("text/javascript")
    sent = int(zipped.headers["content-length"])
    assert sent == (VENDOR_DIR / GRAPHIQL.compressed("graphiql.min.js")).stat().st_size
    assert sent < len(original) / 4
    assert zipped.content == original  # the client decompresses it
    assert zipped.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert zipped.headers["vary"] == "Accept-Encoding"

    plain = api.client.get(SCRIPT, headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert int(plain.headers["content-length"]) == len(original)
    assert plain.headers["vary"] == "Accept-Encoding"
    assert plain.headers["etag"] != zipped.headers["etag"]

    for answer, encoding in ((zipped, "gzip"), (plain, "identity")):
        again = api.client.get(
            SCRIPT,
            headers={"accept-encoding": encoding, "if-none-match": answer.headers["etag"]},
        )
        assert again.status_code == 304 and again.content == b"", encoding


def test_every_vendored_file_has_a_gzip_copy_of_its_own_bytes() -> None:
    for package in PLAYGROUND:
        for file in package.files:
            copy = (VENDOR_DIR / package.compressed(file)).read_bytes()
            assert gzip.decompress(copy) == package.path(file).read_bytes(), file


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("gzip", True),
        ("GZIP;q=0.5", True),
        ("deflate, br", False),
        ("*", True),
        ("gzip;q=0, *", False),
        ("gzip;q=0.0", False),
        ("gzip;q=nonsense", False),
        ("x-gzip", True),
        ("", False),
    ],
)
def test_accept_encoding_is_read_as_rfc_9110_says(header: str, accepted: bool) -> None:
    assert accepts_gzip(header) is accepted
