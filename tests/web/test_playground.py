"""GraphiQL at /graphql: served whole from Inkwell, opening on the write-then-read flow."""

from __future__ import annotations

from dataclasses import dataclass

import graphql
import pytest
from starlette.testclient import TestClient
from strawberry.http.ides import get_graphql_ide_html

import web.playground
from infra.settings import Settings
from schema.served import build_schema
from tests.support.api import Api
from tests.support.pages import hosts_named, is_same_origin_path, references, sri
from web.assets import PLAYGROUND
from web.playground import FLOW, SUBSCRIPTION, PlaygroundTemplateChanged, playground_html
from wiring.asgi import create_app

BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
# The favicon is an inline SVG (a data: URL) whose xmlns names this host; nothing fetches it.
SVG_NAMESPACE_HOST = "www.w3.org"
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css"}


def playground(api: Api) -> str:
    response = api.client.get("/graphql", headers=BROWSER)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def test_the_playground_references_no_external_host(api: Api) -> None:
    html = playground(api)
    urls = [reference.url for reference in references(html)]
    assert len(urls) == 8  # the favicon and the seven files of strawberry's page
    assert all(url.startswith("data:") or is_same_origin_path(url) for url in urls), urls
    assert hosts_named(html) == {SVG_NAMESPACE_HOST}
    assert "unpkg" not in html


def test_every_file_the_playground_loads_is_served_by_inkwell(api: Api) -> None:
    loaded = [ref for ref in references(playground(api)) if not ref.url.startswith("data:")]
    expected = {package.url(file) for package in PLAYGROUND for file in package.files}
    assert {ref.url for ref in loaded} == expected
    for ref in loaded:
        response = api.client.get(ref.url)
        assert response.status_code == 200, ref.url
        suffix = ref.url[ref.url.rindex(".") :]
        assert response.headers["content-type"].startswith(CONTENT_TYPES[suffix]), ref.url
        # The page keeps strawberry's SRI values, so a browser refuses any other bytes.
        assert ref.integrity == sri(response.content), ref.url


def test_vendored_files_may_be_cached_for_good_and_a_missing_one_is_404(api: Api) -> None:
    package = PLAYGROUND[0]
    response = api.client.get(package.url(package.files[0]))
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert api.client.get("/static/vendor/react@18.2.0/umd/nope.js").status_code == 404
    assert api.client.get("/static/../server.py").status_code == 404


def test_the_playground_opens_on_the_write_then_read_flow(api: Api) -> None:
    html = playground(api)
    for operation in ("RegisterUser", "CreatePost", "PublishPost", "RecentPosts"):
        assert f"{operation} {{" in html
    assert '\\"Authorization\\": \\"Bearer <token>\\"' in html.replace("\\u003c", "<")
    assert "<title>Inkwell GraphiQL</title>" in html
    assert "</script>" not in html.split("const EXAMPLE_QUERY = ", 1)[1].split(";\n", 1)[0]


def test_the_flow_is_valid_against_the_served_schema() -> None:
    schema = build_schema()
    served = graphql.build_schema(schema.as_str())
    assert graphql.validate(served, graphql.parse(FLOW)) == []
    if schema.subscription is not None:
        assert graphql.validate(served, graphql.parse(FLOW + SUBSCRIPTION)) == []


def test_the_subscription_example_joins_the_flow_only_when_the_schema_has_subscriptions() -> None:
    assert "subscription Feed" in playground_html(subscriptions=True)
    assert "subscription Feed" not in playground_html(subscriptions=False)


def test_the_page_takes_no_headers_from_its_url() -> None:
    """A link to the playground could carry its sender's Authorization in `headers`,
    which GraphiQL saved over the developer's (tests/e2e/test_browser.py shows it)."""
    for subscriptions in (True, False):
        assert "parameters.headers" not in playground_html(subscriptions=subscriptions)


@dataclass
class FakeTemplate:
    html: str
    reads: int = 0


@pytest.fixture
def template(monkeypatch: pytest.MonkeyPatch) -> FakeTemplate:
    """strawberry's page as `playground_html` reads it, to edit and to count reads of."""
    fake = FakeTemplate(get_graphql_ide_html("graphiql"))

    def read(ide: str) -> str:
        fake.reads += 1
        return fake.html

    monkeypatch.setattr(web.playground, "get_graphql_ide_html", read)
    return fake


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (("graphiql@3.8.3/graphiql.min.js", "graphiql@3.9.0/graphiql.min.js"), "no longer loads"),
        (("</body>", '<script src="https://cdn.example/x.js"></script></body>'), "loads more"),
        (("const EXAMPLE_QUERY = `", "const DEFAULT_QUERY = `"), "EXAMPLE_QUERY"),
        (("React.useState(parameters.headers)", "React.useState(params.headers)"), "headers"),
    ],
)
def test_a_changed_strawberry_page_stops_the_app_from_being_built(
    template: FakeTemplate, settings: Settings, change: tuple[str, str], complaint: str
) -> None:
    old, new = change
    assert old in template.html
    template.html = template.html.replace(old, new)
    with pytest.raises(PlaygroundTemplateChanged, match=complaint):
        create_app(settings)


def test_the_page_is_built_with_the_app_not_per_request(
    template: FakeTemplate, settings: Settings
) -> None:
    app = create_app(settings)
    assert template.reads == 1
    with TestClient(app) as client:
        for _ in range(3):
            assert client.get("/graphql", headers=BROWSER).status_code == 200
    assert template.reads == 1
