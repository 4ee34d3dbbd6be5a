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


def test_a_gzip_copy_is_not_served_by_its_own_name(api: Api) -> None:
    """It went as raw gzip labelled text/javascript, without Content-Encoding."""
    copy = api.client.get(f"{SCRIPT}.gz", headers={"accept-encoding": "gzip"})
    assert copy.status_code == 404
    assert copy.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


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


def test_negotiation_headers_longer_than_any_client_sends_are_not_read(api: Api) -> None:
    """Read whole, 64 KB of Accept-Encoding cost 6-9 ms of the event loop a request, of
    If-None-Match 3.3 ms; 8 connections held another client at p50 42 ms (an outside
    probe). Past 1 KB they are read as absent: the file goes whole."""
    assert accepts_gzip("gzip" + ";" * 64_000) is False
    assert accepts_gzip("gzip, " + "br;q=0.5, " * 50) is True  # 506 bytes: read
    etag = api.client.get(SCRIPT, headers={"accept-encoding": "identity"}).headers["etag"]
    padded = etag + "," * 2000
    for tags, status in ((etag, 304), (padded, 200)):
        answer = api.client.get(
            SCRIPT, headers={"accept-encoding": "identity", "if-none-match": tags}
        )
        assert answer.status_code == status
