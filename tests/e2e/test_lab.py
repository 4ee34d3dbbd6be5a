"""The live page as a CQRS lab, in headless Chromium against `inkwell serve --demo` with
slowed projectors: a write reaches the log first and the read models later."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from harness.net import free_port
from harness.server_process import ROOT, ServerProcess
from tests.support.api import http_api
from tests.support.browser import CHROMIUM, NO_CHROMIUM, LocalOnly, chromium
from wiring.bootstrap import PROJECTIONS

DELAY_MS = 2500
HOSTILE = "<img src=x onerror=alert(1)>"
# Set to refresh the screenshot the README shows: INKWELL_DOCS_SCREENSHOT=1 pytest ...
SCREENSHOT = ROOT / "docs" / "live-lab.png"
INKWELL = str(Path(sys.executable).with_name("inkwell"))


@pytest.fixture
def demo_server(server_env: dict[str, str], tmp_path: Path) -> Iterator[ServerProcess]:
    env = {**server_env, "INKWELL_DEMO_PROJECTION_DELAY_MS": str(DELAY_MS)}
    with ServerProcess(env, tmp_path, args=["--demo"]) as server:
        yield server


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    if CHROMIUM is None:
        pytest.skip(NO_CHROMIUM)
    with chromium(tmp_path / "chromium-profile") as context:
        yield context


def newest_write(page: Page, count: int) -> str:
    """The position of the newest write, once the page lists `count` of them."""
    expect(page.locator("#writes li")).to_have_count(count)
    position = page.locator("#writes li").first.get_attribute("data-position")
    assert position is not None
    return position


def reached_ms(page: Page, position: str, projection: str) -> int:
    chip = page.locator(
        f'#writes li[data-position="{position}"] .chip[data-projection="{projection}"]'
    )
    expect(chip).to_have_attribute("data-reached", "yes", timeout=30_000)
    return int(re.search(r"\+(\d+) ms", chip.text_content() or "")[1])  # type: ignore[index]


def test_a_write_lands_in_the_log_at_once_and_in_the_read_models_later(
    demo_server: ServerProcess, browser: BrowserContext, tmp_path: Path
) -> None:
    guard = LocalOnly(browser)
    page = browser.new_page()
    page.set_viewport_size({"width": 1500, "height": 1000})
    page.goto(f"{demo_server.url}/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=30_000)
    names = [projection.name for projection in PROJECTIONS]
    expect(page.locator("#projections tbody tr")).to_have_count(len(names))

    page.fill("#register input[name=name]", "Ada")
    page.click("#register button")
    expect(page.locator("#identity")).to_contain_text("Writing as Ada")
    page.fill("#create input[name=title]", "Two models, one truth")
    page.fill("#create textarea[name=content]", "Writes go to the log; reads come from Redis.")
    page.fill("#create input[name=tags]", "cqrs, lab")
    page.click("#create button")
    expect(page.locator("#drafts li")).to_have_count(1)
    created_at = newest_write(page, 2)

    # The draft's event shows in its author's tab, and in nobody else's.
    drafted = page.locator(f'#events li[data-position="{created_at}"] .event-type')
    expect(drafted).to_have_text("PostCreated")
    stranger = browser.new_page()  # sessionStorage is per tab: not signed in
    stranger.goto(f"{demo_server.url}/")
    registered = stranger.locator(f'#events li[data-position="{int(created_at) - 1}"]')
    expect(registered.locator(".event-type")).to_have_text("UserRegistered")
    expect(stranger.locator(f'#events li[data-position="{created_at}"]')).to_have_count(0)
    stranger.close()

    page.click("#drafts .publish")
    expect(page.locator("#drafts li")).to_have_count(0)
    published_at = newest_write(page, 3)

    # The log's read model is not slowed: the event shows while the posts wait.
    logged = page.locator(f'#events li[data-position="{published_at}"] .event-type')
    expect(logged).to_have_text("PostPublished")
    assert reached_ms(page, published_at, "recent_events") < DELAY_MS
    assert reached_ms(page, published_at, "posts") >= DELAY_MS - 100
    card = page.locator("#posts > li").first
    expect(card.locator(".title")).to_have_text("Two models, one truth")
    expect(card).to_have_attribute("data-read-model-position", published_at)

    card.locator(".like").click()
    liked_at = newest_write(page, 4)
    expect(page.locator('#projections tr[data-projection="posts"]')).to_have_class("behind")
    expect(page.locator("#lag")).not_to_have_attribute("data-lag", "0")
    page.screenshot(path=str(tmp_path / "lab.png"), full_page=True)
    expect(card.locator(".likes")).to_have_text("1", timeout=30_000)
    expect(card).to_have_attribute("data-read-model-position", liked_at)

    card.locator(".comment-form input").fill(HOSTILE)
    card.locator(".comment-form button").click()
    expect(card.locator(".comment-body")).to_have_text(HOSTILE, timeout=30_000)
    card.locator(".like").click()  # twice: the command is refused, and says why
    expect(card.locator(".result")).to_contain_text("BUSINESS_RULE")

    # A comment of one character under 1,999 combining marks is one grapheme no line
    # breaks: it drew across the columns, over the headings (an outside probe).
    stacked = "b" + "".join(chr(0x0300 + n % 0x70) for n in range(1999))
    card.locator(".comment-form input").fill(stacked)
    card.locator(".comment-form button").click()
    body = card.locator(".comment-body", has_text=stacked[:3])
    expect(body).to_have_count(1, timeout=30_000)
    ink, box, clipped = body.evaluate(
        """(body) => {
            const card = body.closest(".post");
            const range = document.createRange();
            range.selectNodeContents(body);
            return [range.getBoundingClientRect().right, card.getBoundingClientRect().right,
                    getComputedStyle(card).overflow];
        }"""
    )
    assert ink > box, "the marks reach past the card"
    assert clipped == "hidden", "and the card clips them"

    assert page.locator("img, #posts script").count() == 0
    assert guard.dialogs == [] and guard.refused == []
    assert (tmp_path / "lab.png").stat().st_size > 0
    if os.environ.get("INKWELL_DOCS_SCREENSHOT"):
        shutil.copyfile(tmp_path / "lab.png", SCREENSHOT)


def test_a_write_needs_a_registered_user_in_the_tab(
    server: ServerProcess, browser: BrowserContext
) -> None:
    guard = LocalOnly(browser)
    author = http_api(server).register("Ann")
    http_api(server).published_post(author, "Someone else's")
    page = browser.new_page()
    page.goto(f"{server.url}/")
    expect(page.locator("#posts > li")).to_have_count(1)
    expect(page.locator("#posts .like")).to_be_disabled()
    expect(page.locator("#create button")).to_be_disabled()
    page.fill("#register input[name=name]", " ")
    page.click("#register button")
    expect(page.locator("#register .result")).to_contain_text("BAD_USER_INPUT")
    expect(page.locator("#create button")).to_be_disabled()
    page.fill("#register input[name=name]", HOSTILE)
    page.click("#register button")
    expect(page.locator("#identity")).to_contain_text(f"Writing as {HOSTILE}")
    expect(page.locator("#posts .like")).to_be_enabled()
    assert page.locator("img").count() == 0
    assert guard.dialogs == [] and guard.refused == []


def test_a_tab_whose_token_went_bad_forgets_it_and_asks_to_register_again(
    server_env: dict[str, str], browser: BrowserContext, tmp_path: Path
) -> None:
    """The server starts again on a new data directory, so with a new signing key: the
    token the tab registered with no longer verifies. The tab's next request with it,
    the events pane's refresh or a write, is a 401: the tab forgets it."""
    guard = LocalOnly(browser)
    server = ServerProcess(server_env, tmp_path).start()
    try:
        page = browser.new_page()
        page.goto(f"{server.url}/")
        page.fill("#register input[name=name]", "Ada")
        page.click("#register button")
        expect(page.locator("#identity")).to_contain_text("Writing as Ada")

        server.stop()
        server.env["INKWELL_DATA_DIR"] = str(tmp_path / "new-data")
        server.start()
        # The page's WebSocket retries with a backoff of up to 10 s.
        connection = page.locator("#connection")
        expect(connection).to_have_attribute("data-state", "live", timeout=30_000)
        expect(page.locator("#identity")).to_contain_text("register again")
        expect(page.locator("#create button")).to_be_disabled()
        assert page.evaluate("sessionStorage.length") == 0

        page.fill("#register input[name=name]", "Ada")
        page.click("#register button")
        expect(page.locator("#identity")).to_contain_text("Writing as Ada")
        page.fill("#create input[name=title]", "With the new token")
        page.fill("#create textarea[name=content]", "Signed with the new key.")
        page.click("#create button")
        expect(page.locator("#drafts li")).to_have_count(1)
    finally:
        server.close()
    assert guard.dialogs == [] and guard.refused == []


def test_a_bad_token_restored_from_the_tab_is_forgotten_and_the_events_load(
    server_env: dict[str, str], browser: BrowserContext, tmp_path: Path
) -> None:
    """The events pane read with the token the tab kept in sessionStorage: one that no
    longer verifies was a 401 on every refresh, and the pane stayed empty, saying it
    could not load the events, until a write met the 401 too."""
    guard = LocalOnly(browser)
    with ServerProcess(server_env, tmp_path) as server:
        http_api(server).register("Bea")
        page = browser.new_page()
        page.goto(f"{server.url}/")
        page.evaluate(
            """sessionStorage.setItem("inkwell-lab-identity", JSON.stringify(
                {userId: "00000000-0000-4000-8000-000000000000", name: "Ghost",
                 token: "signed.with-another.key"}))"""
        )
        page.reload()
        expect(page.locator("#events li .event-type").first).to_have_text("UserRegistered")
        expect(page.locator("#identity")).to_contain_text("register again")
        expect(page.locator("#problem")).to_be_hidden()
        assert page.evaluate("sessionStorage.length") == 0
    assert guard.dialogs == [] and guard.refused == []


def serve_with(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """With a free PORT unless `env` names one: `serve` checks it can listen first."""
    return subprocess.run(
        [INKWELL, *args],
        env={**os.environ, "PORT": str(free_port()), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("command", [["serve"], ["project"], ["api"]])
def test_the_projection_delay_is_refused_outside_demo_mode(
    server_env: dict[str, str], tmp_path: Path, command: list[str]
) -> None:
    env = {**server_env, "INKWELL_DEMO_PROJECTION_DELAY_MS": "500"}
    refused = serve_with(env, tmp_path, *command)
    assert refused.returncode == 2
    assert "refused outside demo mode" in refused.stderr and "--demo" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.parametrize("value", ["abc", "-1", "60001", "1.5"])
def test_a_bad_projection_delay_is_refused_in_demo_mode(
    server_env: dict[str, str], tmp_path: Path, value: str
) -> None:
    env = {**server_env, "INKWELL_DEMO_PROJECTION_DELAY_MS": value}
    refused = serve_with(env, tmp_path, "serve", "--demo")
    assert refused.returncode == 2
    assert "whole number of milliseconds" in refused.stderr
