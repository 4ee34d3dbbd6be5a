"""Why a command was refused, in domain terms; the API maps each error to a code."""

from __future__ import annotations

from domain.streams import described

ECHO_MAX = 40


def excerpt(value: str, limit: int = ECHO_MAX) -> str:
    """A client's value as an error message may quote it: repr'd (so control characters
    show as escapes) and cut short, so a 100 KB input is not sent back whole."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"


class DomainError(Exception):
    """A command was refused; nothing was appended."""


class InvalidInput(DomainError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class Unauthenticated(DomainError):
    def __init__(self, message: str = "this command needs an authenticated user") -> None:
        super().__init__(message)


class Forbidden(DomainError):
    pass


class NotFound(DomainError):
    def __init__(self, kind: str, id: str) -> None:
        super().__init__(f"{kind} {id} does not exist")
        self.kind = kind
        self.id = id


class BusinessRuleViolation(DomainError):
    """A rule of the blog refuses the command; `reason` names the rule."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ConcurrencyError(DomainError):
    """The stream moved on since the caller read it. The message names what it holds in
    the API's terms; `stream_id` is the log's name, for the command bus."""

    def __init__(self, stream_id: str, expected_version: int, current_version: int) -> None:
        super().__init__(
            f"{described(stream_id)} is at version {current_version}, not {expected_version}"
        )
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.current_version = current_version


class UnreadableHistory(DomainError):
    """The stream holds an event this code cannot read (domain/upcasting.py), so nothing
    can be decided on it until that event can be read (a release that knows it, an
    upcaster, a repaired row): a command on it was INTERNAL_SERVER_ERROR with a traceback
    logged at every attempt. `inkwell parked skip` is no way out here: it drops the event
    from the read models only, and the message once said it would do."""

    def __init__(self, stream_id: str) -> None:
        super().__init__(
            f"{described(stream_id)} holds an event this server cannot read, so no "
            "command on it can be decided until an operator makes that event readable; "
            "nothing was changed"
        )


class CommandIdReused(DomainError):
    """A commandId came back with a different command than the one it first named."""

    def __init__(self, command_id: str) -> None:
        super().__init__(f"commandId {command_id} was already used for a different command")
        self.command_id = command_id
