"""The live page at /: only Inkwell's own files, and server data written as text only."""

from __future__ import annotations

import re

from tests.support.api import Api
from tests.support.pages import hosts_named, is_same_origin_path, references, sri
from web.assets import STATIC_DIR

CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css"}


def test_the_live_page_references_no_external_host(api: Api) -> None:
    response = api.client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    refs = references(response.text)
    assert {ref.url for ref in refs} >= {"/static/live.js", "/static/live.css", "/graphql"}
    assert all(ref.url.startswith("data:") or is_same_origin_path(ref.url) for ref in refs)
    assert hosts_named(response.text) == set()
    for own in ("live.js", "live.css"):
        assert hosts_named((STATIC_DIR / own).read_text()) == set(), own


def test_every_file_the_live_page_loads_is_served_by_inkwell(api: Api) -> None:
    loaded = [ref for ref in references(api.client.get("/").text) if ref.tag in ("script", "link")]
    loaded = [ref for ref in loaded if not ref.url.startswith("data:")]
    assert len(loaded) == 3  # the stylesheet, graphql-ws and the page's script
    for ref in loaded:
        response = api.client.get(ref.url)
        assert response.status_code == 200, ref.url
        suffix = ref.url[ref.url.rindex(".") :]
        assert response.headers["content-type"].startswith(CONTENT_TYPES[suffix]), ref.url
        assert ref.integrity in (None, sri(response.content)), ref.url
    assert api.client.get("/static/live.js").headers["cache-control"] == "no-cache"


def test_the_live_page_may_run_only_its_own_scripts_and_talk_only_to_inkwell(api: Api) -> None:
    policy = api.client.get("/").headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"


def test_the_live_page_script_never_writes_html() -> None:
    script = (STATIC_DIR / "live.js").read_text()
    code = re.sub(r"//.*", "", script)  # comments may name what the code avoids
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        'setAttribute("on',
        "srcdoc",
    ):
        assert sink not in code, sink


def test_without_the_playground_the_live_page_does_not_link_to_it() -> None:
    """In production /graphql has no page: the link led to a 404."""
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from web.routes import routes

    with TestClient(Starlette(routes=routes(playground=False))) as client:
        page = client.get("/").text
    assert "/static/live.js" in page and 'href="/graphql"' not in page
    with TestClient(Starlette(routes=routes())) as client:
        assert 'href="/graphql"' in client.get("/").text
