"""Headless Chromium for tests: Debian's binary driven by Playwright, kept on this machine."""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from playwright.sync_api import (
    BrowserContext,
    Dialog,
    Page,
    Route,
    WebSocketRoute,
    sync_playwright,
)
from starlette.types import ASGIApp

from harness.net import free_port

CHROMIUM = shutil.which("chromium")
NO_CHROMIUM = "chromium is not installed: `apt-get install chromium` (.ci/run does it)"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


@contextmanager
def chromium(profile: Path) -> Iterator[BrowserContext]:
    """A fresh browser with its own profile directory; Playwright downloads nothing."""
    assert CHROMIUM is not None, NO_CHROMIUM
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS
        )
        try:
            yield context
        finally:
            context.close()


class LocalOnly:
    """Lets the browser reach only this machine: every other request is recorded and aborted,
    every page's WebSockets and dialogs (alert, confirm) are recorded."""

    def __init__(self, context: BrowserContext) -> None:
        self.requested: list[str] = []
        self.refused: list[str] = []
        self.websockets: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []  # uncaught in a page's scripts
        context.route("**/*", self._route)
        context.on("page", self.watch)
        for page in context.pages:
            self.watch(page)

    def watch(self, page: Page) -> None:
        page.on("websocket", lambda ws: self._websocket(ws.url))
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _route(self, route: Route) -> None:
        url = route.request.url
        self.requested.append(url)
        if urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.refused.append(url)
            route.abort()

    def _websocket(self, url: str) -> None:
        self.websockets.append(url)
        if urlsplit(url).hostname not in LOCAL_HOSTS:
            self.refused.append(url)


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """Runs an ASGI app under uvicorn in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class FakeGraphQLWebSocket:
    """Plays the server's side of graphql-transport-ws for a page: acknowledges the connection,
    remembers each subscription by operation name and lets the test push items to it."""

    def __init__(self, on_subscribe: Callable[[FakeGraphQLWebSocket, str], None]) -> None:
        self.on_subscribe = on_subscribe
        self.socket: WebSocketRoute | None = None
        self.ids: dict[str, str] = {}
        self.queries: dict[str, str] = {}
        self.connection_params: list[Any] = []

    def route(self, socket: WebSocketRoute) -> None:
        self.socket = socket
        socket.on_message(self._receive)

    def push(self, operation: str, data: dict[str, Any]) -> None:
        self._send({"id": self.ids[operation], "type": "next", "payload": {"data": data}})

    def refuse(self, operation: str, message: str, code: str) -> None:
        """An `error` for the operation, as the server refuses a subscribe."""
        error = {"message": message, "extensions": {"code": code}}
        self._send({"id": self.ids[operation], "type": "error", "payload": [error]})

    def _receive(self, raw: str | bytes) -> None:
        message = json.loads(raw)
        kind = message["type"]
        if kind == "connection_init":
            self.connection_params.append(message.get("payload"))
            self._send({"type": "connection_ack"})
        elif kind == "ping":
            self._send({"type": "pong"})
        elif kind == "subscribe":
            query = message["payload"]["query"]
            found = re.search(r"subscription\s+(\w+)", query)
            assert found, query
            self.ids[found[1]] = message["id"]
            self.queries[found[1]] = query
            self.on_subscribe(self, found[1])

    def _send(self, message: dict[str, Any]) -> None:
        assert self.socket is not None
        self.socket.send(json.dumps(message))
