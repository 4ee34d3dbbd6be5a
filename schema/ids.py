"""Ids that clients send, checked before they name a Redis key, a stream or an idempotency record.

Every id this server issues is a UUID, so anything else names nothing: refusing it
up front keeps key names (`post:<id>:comment-ids`, `by-author:<id>:own`) out of
reach of whatever a client types.
"""

from __future__ import annotations

import re

from domain import rules
from domain.errors import InvalidInput

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Version 4, RFC 4122 variant: 122 random bits.
RANDOM_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
COMMAND_ID_MAX = 200


def entity_id(value: str, field: str) -> str:
    """The id in the canonical form this server issues (lower case), or InvalidInput."""
    lowered = value.lower()
    if not UUID.fullmatch(lowered):
        raise InvalidInput(field, "must be an id (a UUID)")
    return lowered


def command_id(value: str | None, *, anonymous: bool) -> str | None:
    """An idempotency key. A signed-in caller's ids are theirs alone, so any 1-200
    characters do that one-line text may hold (domain/rules.py `plain`): the key is a
    column of the commands table, and PostgreSQL's text cannot hold NUL (psycopg raised
    DataError, a 500 and a traceback per request). An anonymous caller has nothing but
    the id to tell its retry from a stranger's request, so its id must be a random UUID
    (version 4): one nobody guesses."""
    if value is None:
        return None
    if anonymous:
        if not RANDOM_UUID.fullmatch(value.lower()):
            raise InvalidInput("commandId", "without a token, must be a random UUID (version 4)")
        return value.lower()
    if not 1 <= len(value) <= COMMAND_ID_MAX:
        raise InvalidInput("commandId", f"must be 1-{COMMAND_ID_MAX} characters")
    return rules.plain("commandId", value, one_line=True, flags=False)
