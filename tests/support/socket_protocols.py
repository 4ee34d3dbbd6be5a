"""The two GraphQL WebSocket protocols as tests drive them: the message type that starts
an operation, and where an `error` message keeps its error (graphql-transport-ws sends a
list of them, the legacy protocol one)."""

from __future__ import annotations

from typing import Any

import pytest


def first_error(message: dict[str, Any]) -> dict[str, Any]:
    error: dict[str, Any] = message["payload"][0]
    return error


def only_error(message: dict[str, Any]) -> dict[str, Any]:
    error: dict[str, Any] = message["payload"]
    return error


# Parametrizes a test over (protocol, start, error_of).
EACH_PROTOCOL = pytest.mark.parametrize(
    ("protocol", "start", "error_of"),
    [
        ("graphql-transport-ws", "subscribe", first_error),
        ("graphql-ws", "start", only_error),
    ],
)
