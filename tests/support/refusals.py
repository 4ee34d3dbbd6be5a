"""Refusals with proof: the API answered an error and the log did not grow."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from infra.settings import Settings
from tests.support import log
from tests.support.api import Api


@contextmanager
def appends_nothing(settings: Settings) -> Iterator[None]:
    before = log.head(settings.database_url)
    yield
    assert log.head(settings.database_url) == before, "a refused command appended events"


def refused(
    api: Api, settings: Settings, query: str, variables: dict[str, Any], **kw: Any
) -> dict[str, Any]:
    with appends_nothing(settings):
        return api.error(query, variables, **kw)
