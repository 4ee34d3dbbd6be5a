"""What a browser sees, in headless Chromium (Debian's, driven by Playwright) with nothing but
this machine reachable: the live page and the playground."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import strawberry
from playwright.sync_api import BrowserContext, Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL

from auth.tokens import BearerTokens
from harness.server_process import ServerProcess
from schema.served import InkwellSchema
from schema.view import InkwellGraphQL
from tests.support.api import http_api
from tests.support.browser import (
    CHROMIUM,
    NO_CHROMIUM,
    FakeGraphQLWebSocket,
    LocalOnly,
    chromium,
    serving,
)
from tests.support.shared_server import shared_server
from web import routes as web
from web.assets import PLAYGROUND
from web.playground import playground_html

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
# Two shared cores: GraphiQL parses 3.5 MB of JavaScript before it renders. Only the
# like-within-a-second test states a tight bound, explicitly.
expect.set_options(timeout=15_000)

HOSTILE = "<img src=x onerror=alert(1)>"
LIKE_POST = "mutation($input: PostCommandInput!) { likePost(input: $input) { position } }"
# Selecting only `position` answers at commit, without waiting for the read models.
REGISTER_POSITION_ONLY = "mutation($n: String!) { registerUser(input: {name: $n}) { position } }"


@pytest.fixture(scope="module")
def server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the tests that read what they themselves write: each looks for its
    own posts on the page, and any other's are shown beside them."""
    with shared_server(redis_url, tmp_path_factory.mktemp("browser")) as running:
        yield running


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    with chromium(tmp_path / "chromium-profile") as context:
        yield context


@pytest.fixture
def guard(browser: BrowserContext) -> LocalOnly:
    return LocalOnly(browser)


def eventually(page: Page, check: Callable[[], bool], timeout: float = 10) -> None:
    """Waits for a condition on the test's side; waiting through the page lets Playwright
    run the test's route handlers meanwhile."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(50)


def post_item(page: Page, post_id: str, part: str) -> Any:
    return page.locator(f'#posts > li[data-post-id="{post_id}"] {part}')


# -- the live page against a real server ----------------------------------------


def test_the_live_page_shows_a_hostile_title_as_text(
    server: ServerProcess, browser: BrowserContext, guard: LocalOnly
) -> None:
    api = http_api(server)
    author = api.register("<b onmouseover=alert(2)>Mallory</b>")
    post = api.published_post(author, HOSTILE, content="<script>alert(3)</script>")
    page = browser.new_page()
    page.goto(f"{server.url}/")
    title = post_item(page, post["id"], ".title")
    expect(title).to_have_text(HOSTILE)
    assert title.text_content() == HOSTILE
    assert post_item(page, post["id"], ".author").text_content() == author_name(api, author.id)
    assert post_item(page, post["id"], ".content").text_content() == "<script>alert(3)</script>"
    assert page.locator("img").count() == 0
    assert page.locator("#posts b, #posts script").count() == 0
    assert guard.dialogs == []
    assert guard.refused == []


def author_name(api: Any, user_id: str) -> str:
    user = api.ok("query($id: ID!) { user(id: $id) { name } }", {"id": user_id})["user"]
    return str(user["name"])


def test_the_live_page_shows_a_like_within_a_second(
    server: ServerProcess, browser: BrowserContext, guard: LocalOnly
) -> None:
    api = http_api(server)
    author, reader = api.register("Ada"), api.register("Grace")
    post = api.published_post(author, "Liked live")
    page = browser.new_page()
    page.goto(f"{server.url}/")
    expect(post_item(page, post["id"], ".likes")).to_have_text("0")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    liked_at = time.monotonic()
    api.ok(LIKE_POST, {"input": {"postId": post["id"]}}, token=reader.token)
    expect(post_item(page, post["id"], ".likes")).to_have_text("1", timeout=1_000)
    assert time.monotonic() - liked_at < 1.0
    assert guard.refused == []


def test_the_lag_indicator_follows_the_projections(
    server_env: dict[str, str], tmp_path: Path, browser: BrowserContext, guard: LocalOnly
) -> None:
    """An API-only process commits while no projector runs: the page shows the read models
    falling behind, then catching up once a projector process starts."""
    with ServerProcess(server_env, tmp_path, command="api") as api_process:
        page = browser.new_page()
        page.goto(f"{api_process.url}/")
        expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        lag = page.locator("#lag")
        for name in ("Lag", "Behind"):
            http_api(api_process).ok(REGISTER_POSITION_ONLY, {"n": name})
        expect(lag).not_to_have_attribute("data-lag", "0")
        assert int(lag.get_attribute("data-lag") or 0) > 0
        projector = ServerProcess(server_env, tmp_path, command="project").start(wait=False)
        try:
            expect(lag).to_have_attribute("data-lag", "0")
        finally:
            projector.stop()
    assert guard.refused == []


# -- the live page's side of the subscription contract, against a scripted server ---------


@pytest.fixture
def static_site() -> Iterator[str]:
    """Only the browser's routes (no GraphQL): the page's queries and subscriptions are
    answered by the test."""
    with serving(Starlette(routes=web.routes())) as url:
        yield url


def a_post(post_id: str, title: str, published: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": post_id,
        "version": 2,
        "title": title,
        "content": "Text.",
        "tags": ["cqrs"],
        "status": "PUBLISHED",
        "publishedAt": published,
        "author": {"id": "u1", "name": "Ada"},
        "likeCount": 0,
        "commentCount": 0,
        "topComments": [],
        **fields,
    }


def statuses(lag: int) -> list[dict[str, Any]]:
    return [{"name": "posts", "position": 10 - lag, "headPosition": 10, "lag": lag}]


def answer_queries(page: Page, posts: list[dict[str, Any]]) -> list[str]:
    """Answers the page's HTTP queries as a server with the whole contract would."""
    asked: list[str] = []

    def reply(route: Any) -> None:
        query = route.request.post_data_json["query"]
        asked.append(query)
        if "__type" in query:
            fields = [{"name": name} for name in ("id", "title", "likeCount", "topComments")]
            data: dict[str, Any] = {"__type": {"fields": fields}}
        else:
            edges = [{"node": post} for post in posts]
            data = {"recentPosts": {"edges": edges}, "projections": statuses(0)}
        route.fulfill(json={"data": data})

    page.route("**/graphql", reply)
    return asked


def test_the_live_page_applies_feed_and_projection_items(
    static_site: str, browser: BrowserContext, guard: LocalOnly
) -> None:
    first = a_post("p1", "First", "2026-11-01T10:00:00+00:00")
    page = browser.new_page()
    asked = answer_queries(page, [first])

    def on_subscribe(fake: FakeGraphQLWebSocket, operation: str) -> None:
        if operation == "LiveProjections":  # `projections` yields the current state first
            fake.push(operation, {"projections": statuses(0)})

    fake = FakeGraphQLWebSocket(on_subscribe)
    page.route_web_socket("**/graphql", fake.route)
    page.goto(f"{static_site}/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    expect(post_item(page, "p1", ".title")).to_have_text("First")
    assert "topComments" in fake.queries["LiveFeed"]
    # Loaded, then read again once the first `projections` item shows the server has
    # taken the subscriptions (`feed` has no initial item).
    eventually(page, lambda: sum("query LivePage" in query for query in asked) == 2)

    comment = {
        "id": "c1",
        "body": HOSTILE,
        "createdAt": "2026-11-01T11:00:00+00:00",
        "author": {"id": "u2", "name": "<i>Eve</i>"},
    }
    fake.push(
        "LiveFeed", {"feed": {**first, "likeCount": 7, "commentCount": 1, "topComments": [comment]}}
    )
    expect(post_item(page, "p1", ".likes")).to_have_text("7")
    expect(post_item(page, "p1", ".comments")).to_have_text("1")
    expect(post_item(page, "p1", ".comment-body")).to_have_text(HOSTILE)
    expect(post_item(page, "p1", ".comment-author")).to_have_text("<i>Eve</i>")

    fake.push("LiveFeed", {"feed": a_post("p2", HOSTILE, "2026-11-02T10:00:00+00:00")})
    expect(page.locator("#posts > li")).to_have_count(2)
    expect(page.locator("#posts > li").first).to_have_attribute("data-post-id", "p2")
    expect(post_item(page, "p2", ".title")).to_have_text(HOSTILE)

    fake.push("LiveFeed", {"feed": {**first, "version": 1, "likeCount": 0}})  # stale
    fake.push("LiveProjections", {"projections": statuses(3)})
    expect(page.locator("#lag")).to_have_attribute("data-lag", "3")
    expect(post_item(page, "p1", ".likes")).to_have_text("7")

    fake.push("LiveFeed", {"feed": {**first, "version": 3, "status": "ARCHIVED"}})
    fake.push("LiveProjections", {"projections": statuses(0)})
    expect(page.locator("#posts > li")).to_have_count(1)
    expect(page.locator("#lag")).to_have_attribute("data-lag", "0")
    assert page.locator("img, #posts i").count() == 0
    assert guard.dialogs == []
    assert guard.refused == []


def test_the_live_page_reads_the_events_at_most_twice_a_second(
    static_site: str, browser: BrowserContext, guard: LocalOnly
) -> None:
    """A busy server sends projections items many times a second; the page read the newest
    events after each one, spending its address's request rate."""
    page = browser.new_page()
    asked = answer_queries(page, [])

    def on_subscribe(fake: FakeGraphQLWebSocket, operation: str) -> None:
        if operation == "LiveProjections":
            fake.push(operation, {"projections": statuses(0)})

    fake = FakeGraphQLWebSocket(on_subscribe)
    page.route_web_socket("**/graphql", fake.route)
    page.goto(f"{static_site}/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")

    def reads() -> int:
        return sum("query LabEvents" in query for query in asked)

    eventually(page, lambda: reads() >= 2)  # at start, and after the first item
    before, started = reads(), time.monotonic()
    for n in range(20):  # an item every 0.1 s; the page answers each before the next
        fake.push("LiveProjections", {"projections": statuses(n % 3)})
        page.wait_for_timeout(100)
    page.wait_for_timeout(600)  # for the read the last items left due
    elapsed = time.monotonic() - started
    assert reads() - before <= elapsed / 0.5 + 1, (reads() - before, elapsed)
    assert reads() > before
    assert guard.refused == []


def live_projections(fake: FakeGraphQLWebSocket, operation: str) -> None:
    if operation == "LiveProjections":  # `projections` yields the current state first
        fake.push(operation, {"projections": statuses(0)})


def test_a_shown_post_archived_is_replaced_from_the_read_model(
    static_site: str, browser: BrowserContext, guard: LocalOnly
) -> None:
    """The list shrank for good: archive the 20 shown, and it said "No published posts
    yet." while 119 were (an outside probe). The snapshot is read again; one that still
    holds the archived post (behind the feed) does not bring it back."""
    posts = [a_post(f"p{n:02}", f"Post {n}", f"2026-11-01T10:{n:02}:00+00:00") for n in range(21)]
    page = browser.new_page()
    answer_queries(page, posts)
    fake = FakeGraphQLWebSocket(live_projections)
    page.route_web_socket("**/graphql", fake.route)
    page.goto(f"{static_site}/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    expect(page.locator("#posts > li")).to_have_count(20)
    expect(page.locator('#posts > li[data-post-id="p00"]')).to_have_count(0)  # the 21st
    fake.push("LiveFeed", {"feed": {**posts[20], "version": 3, "status": "ARCHIVED"}})
    expect(page.locator('#posts > li[data-post-id="p00"]')).to_have_count(1)
    expect(page.locator("#posts > li")).to_have_count(20)
    expect(page.locator('#posts > li[data-post-id="p20"]')).to_have_count(0)
    assert guard.refused == []


def test_a_refused_snapshot_is_asked_for_again_after_its_retry_after(
    static_site: str, browser: BrowserContext, guard: LocalOnly
) -> None:
    """Reloads from one address spent its query cost budget: the page showed no posts,
    said "live", and never asked again."""
    page = browser.new_page()
    refused = {"count": 0}

    def reply(route: Any) -> None:
        query = route.request.post_data_json["query"]
        if "query LivePage" in query and refused["count"] < 2:
            refused["count"] += 1
            error = {
                "message": "Query cost budget spent",
                "extensions": {"code": "RATE_LIMITED", "retryAfter": 1},
            }
            route.fulfill(status=429, json={"errors": [error]})
            return
        posts = [a_post("p1", "Shown at last", "2026-11-01T10:00:00+00:00")]
        edges = [{"node": post} for post in posts]
        route.fulfill(json={"data": {"recentPosts": {"edges": edges}, "projections": statuses(0)}})

    page.route("**/graphql", reply)
    fake = FakeGraphQLWebSocket(lambda fake, operation: None)  # no projections item: no resync
    page.route_web_socket("**/graphql", fake.route)
    page.goto(f"{static_site}/")
    expect(page.locator("#problem")).to_contain_text("Query cost budget spent")
    expect(post_item(page, "p1", ".title")).to_have_text("Shown at last")
    expect(page.locator("#problem")).to_be_hidden()
    assert refused["count"] == 2


def test_a_refused_subscription_is_asked_for_again(
    static_site: str, browser: BrowserContext, guard: LocalOnly
) -> None:
    """A 15th tab from one address met the subscription budget and stayed "unavailable"
    after the other tabs had closed and freed it."""
    page = browser.new_page()
    answer_queries(page, [])
    subscribes: list[str] = []

    def on_subscribe(fake: FakeGraphQLWebSocket, operation: str) -> None:
        subscribes.append(operation)
        if operation == "LiveFeed" and subscribes.count("LiveFeed") == 1:
            fake.refuse(operation, "Subscription budget reached", "RATE_LIMITED")
        # No projections item: its resync would clear the problem shown.

    fake = FakeGraphQLWebSocket(on_subscribe)
    page.route_web_socket("**/graphql", fake.route)
    page.goto(f"{static_site}/")
    expect(page.locator("#problem")).to_contain_text("Subscription budget reached")
    eventually(page, lambda: subscribes.count("LiveFeed") == 2)
    fake.push("LiveFeed", {"feed": a_post("p1", "Live again", "2026-11-01T10:00:00+00:00")})
    expect(post_item(page, "p1", ".title")).to_have_text("Live again")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")


def test_a_preview_cuts_between_characters(
    static_site: str, browser: BrowserContext, guard: LocalOnly
) -> None:
    """Cut at 280 UTF-16 units, an emoji across the cut showed as U+FFFD."""
    page = browser.new_page()
    content = "a" * 279 + "\U0001f600 and more"
    answer_queries(page, [a_post("p1", "Emoji", "2026-11-01T10:00:00+00:00", content=content)])
    page.route_web_socket("**/graphql", FakeGraphQLWebSocket(live_projections).route)
    page.goto(f"{static_site}/")
    expect(post_item(page, "p1", ".content")).to_have_text("a" * 279 + "…")


# -- an app on another origin ----------------------------------------------------------

READ_REFUSAL = """async ([url, token]) => {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/graphql-response+json",
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({ query: "{ viewer { id } }" }),
  });
  return {
    status: response.status,
    challenge: response.headers.get("www-authenticate"),
    body: await response.json(),
  };
}"""


@pytest.fixture
def app_origin() -> Iterator[str]:
    """A single-page app's own origin: one blank page, no Content-Security-Policy."""

    async def blank(request: Request) -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>app</title>")

    with serving(Starlette(routes=[Route("/", blank)])) as url:
        yield url


def test_an_app_on_a_listed_origin_reads_why_its_token_was_refused(
    app_origin: str,
    server_env: dict[str, str],
    tmp_path: Path,
    browser: BrowserContext,
    guard: LocalOnly,
) -> None:
    """What a single-page app sees when its token went bad: the 401, its challenge and
    its error, through CORS (WWW-Authenticate is exposed to its scripts)."""
    env = {**server_env, "INKWELL_CORS_ORIGINS": app_origin}
    with ServerProcess(env, tmp_path) as server:
        page = browser.new_page()
        page.goto(f"{app_origin}/")
        stale = BearerTokens(b"an old data directory's key").issue(str(uuid.uuid4()))
        seen = page.evaluate(READ_REFUSAL, [f"{server.url}/graphql", stale])
    assert seen["status"] == 401
    assert seen["challenge"].startswith('Bearer error="invalid_token", error_description="')
    assert seen["body"]["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


# -- the playground ------------------------------------------------------------------


def test_the_playground_renders_and_runs_with_no_request_leaving_localhost(
    server: ServerProcess, browser: BrowserContext, guard: LocalOnly
) -> None:
    page = browser.new_page()
    with page.expect_response(
        lambda response: (
            response.url == f"{server.url}/graphql" and response.request.method == "POST"
        )
    ) as schema_load:
        page.goto(f"{server.url}/graphql")
    assert schema_load.value.ok
    editor = page.locator(".graphiql-query-editor")
    expect(editor).to_contain_text("mutation RegisterUser")

    # Ctrl-Enter runs the operation under the cursor: the flow's first step.
    page.locator(".graphiql-query-editor .CodeMirror-line", has_text="registerUser(").click()
    page.keyboard.press("Control+Enter")
    expect(page.locator(".graphiql-response")).to_contain_text('"token"')

    files = [package.url(file) for package in PLAYGROUND for file in package.files]
    assert {f"{server.url}{file}" for file in files} <= set(guard.requested)
    assert guard.refused == []
    assert guard.dialogs == []


def test_a_malformed_escape_in_the_playgrounds_url_is_kept_as_it_is(
    server: ServerProcess, browser: BrowserContext, guard: LocalOnly
) -> None:
    """decodeURIComponent threw URIError on `%le` of an unrelated tracking parameter, and
    the page stayed at "Loading..."."""
    page = browser.new_page()
    query = quote("{ __typename }")
    page.goto(f"{server.url}/graphql?utm_source=news%letter&q={query}")
    expect(page.locator(".graphiql-query-editor")).to_contain_text("__typename")
    assert guard.errors == []


def test_the_playground_says_when_its_saved_token_no_longer_verifies(
    server: ServerProcess, browser: BrowserContext, guard: LocalOnly
) -> None:
    """GraphiQL keeps its Headers pane in the browser's storage, across server restarts: a
    token from an old data directory, or an expired one, is sent with every request. It
    was answered as anonymous, so a mutation failed with UNAUTHENTICATED while the Headers
    pane held a token, and a query showed the viewer signed out; now every request says
    why, and the flow's first step works once the header is gone."""
    other_key = BearerTokens(b"an old data directory's key").issue(str(uuid.uuid4()))
    page = browser.new_page()
    page.goto(f"{server.url}/graphql")
    paste_headers(page, json.dumps({"Authorization": f"Bearer {other_key}"}))
    response = page.locator(".graphiql-response")
    page.locator(".graphiql-query-editor .CodeMirror-line", has_text="registerUser(").click()
    page.keyboard.press("Control+Enter")
    expect(response).to_contain_text("UNAUTHENTICATED")
    expect(response).to_contain_text("The bearer token is not valid")
    expect(response).not_to_contain_text('"token"')

    page.locator(".graphiql-editor-tool .CodeMirror").nth(1).click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.locator(".graphiql-query-editor .CodeMirror-line", has_text="registerUser(").click()
    page.keyboard.press("Control+Enter")
    expect(response).to_contain_text('"token"')
    assert guard.refused == [] and guard.dialogs == []


class Ticks(InkwellGraphQL):
    """Inkwell's GraphQL view (its playground page, its WebSocket frames) on a schema of
    its own, with strawberry's default context, execution and connection handling:
    Inkwell's need its services, and only the playground's side is under test here."""

    get_context = GraphQL.get_context
    on_ws_connect = GraphQL.on_ws_connect
    # Persisted-query resolution reads the services too.
    execute_single = GraphQL.execute_single
    # strawberry's own handlers, in place of Inkwell's (typed as Inkwell's subclasses).
    graphql_transport_ws_handler_class = GraphQL.graphql_transport_ws_handler_class  # type: ignore[misc, assignment]
    graphql_ws_handler_class = GraphQL.graphql_ws_handler_class  # type: ignore[misc, assignment]


@strawberry.type
class TicksQuery:
    hello: str = "world"


@strawberry.type
class TicksSubscription:
    @strawberry.subscription
    async def ticks(self, info: strawberry.Info, count: int = 3) -> AsyncGenerator[str, None]:
        authorization = info.context["connection_params"].get("Authorization")
        for number in range(count):
            yield f"tick {number} {authorization}"


@pytest.fixture
def ticking_server() -> Iterator[str]:
    schema = InkwellSchema(query=TicksQuery, subscription=TicksSubscription)
    view = Ticks(schema, playground=playground_html(subscriptions=False))
    routes = [Route("/graphql", view), WebSocketRoute("/graphql", view), *web.routes()]
    with serving(Starlette(routes=routes)) as url:
        yield url


TICKS = quote("subscription Ticks { ticks(count: 3) }")


def paste_headers(page: Page, text: str) -> None:
    """Opens the Headers pane and pastes `text` into it, as a developer does with a token;
    waits until GraphiQL has saved it (it persists the pane, shouldPersistHeaders)."""
    page.get_by_role("button", name="Headers").click()
    page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror").click()
    page.keyboard.insert_text(text)
    eventually(page, lambda: page.evaluate("localStorage.getItem('graphiql:headers')") == text)


def test_the_playground_runs_subscriptions_over_its_own_websocket(
    ticking_server: str, browser: BrowserContext, guard: LocalOnly
) -> None:
    """GraphiQL's fetcher opens graphql-transport-ws on the page's own URL and sends the
    Headers pane as the connection_init payload."""
    page = browser.new_page()
    received: list[str | bytes] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: received.append(frame)))
    page.goto(f"{ticking_server}/graphql?q={TICKS}")
    paste_headers(page, '{"Authorization": "Bearer abc"}')
    page.locator(".graphiql-execute-button").click()
    expect(page.locator(".graphiql-response")).to_contain_text("tick 2 Bearer abc")
    assert guard.websockets == [ticking_server.replace("http://", "ws://") + "/graphql"]
    assert all(isinstance(frame, str) for frame in received)  # text frames, as graphql-ws needs
    items = [json.loads(frame) for frame in received]
    ticks = [item["payload"]["data"]["ticks"] for item in items if item["type"] == "next"]
    assert ticks == [f"tick {number} Bearer abc" for number in range(3)]
    assert guard.refused == []


def test_a_link_cannot_replace_the_headers_a_developer_saved(
    ticking_server: str, browser: BrowserContext, guard: LocalOnly
) -> None:
    """strawberry's page took the Headers pane from the URL's `headers` parameter and
    GraphiQL saved it: a link carrying someone else's token made the developer's next
    operations run as that someone (here "Bearer attacker")."""
    page = browser.new_page()
    page.goto(f"{ticking_server}/graphql?q={TICKS}")
    paste_headers(page, '{"Authorization": "Bearer mine"}')

    crafted = quote('{"Authorization": "Bearer attacker"}')
    page.goto(f"{ticking_server}/graphql?q={TICKS}&headers={crafted}")
    page.locator(".graphiql-execute-button").click()
    expect(page.locator(".graphiql-response")).to_contain_text("tick 2 Bearer mine")
    assert "attacker" not in page.evaluate("JSON.stringify(localStorage)")
    assert guard.refused == []
