"""How refusals reach clients: every error gets the contract's `extensions.code`.

Expected errors (a refused command, a bad cursor, a timeout) keep their message
and gain a code and details. A store that cannot be reached (the exception types the
composition root names as outages, wiring/outages.py) is UNAVAILABLE: the client may
try again. Anything else is logged in full and reaches the client only as
INTERNAL_SERVER_ERROR, without internals.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError, VariableDefinitionNode

from domain.errors import (
    ECHO_MAX,
    BusinessRuleViolation,
    CommandIdReused,
    ConcurrencyError,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
    UnreadableHistory,
)
from projections.live.consistency import ConsistencyTimeout
from projections.live.read_models import Resubscribe
from projections.readers.pagination import BadPageRequest
from projections.readers.read_models import BadSearch
from protection.throttle import RateLimited
from schema.exposure import without_suggestions

log = logging.getLogger(__name__)


class BadInput(Exception):
    """Input the API itself refuses before any command exists (a malformed header, say);
    `field` names the argument, input field or header, as InvalidInput's does."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class HiddenPost(Exception):
    """A mutation's payload selects a post its caller may not see: a reader deleting their
    comment on a post archived since, or a post archived while a like or a comment was
    written. The contract makes the payload's
    `post` non-null, so no answer with `data` exists, and showing the post would hand an
    archived post to someone it is hidden from. Refused before the write (`position`
    None) when the read model shows it hidden then; found hidden only after the write
    (archived meanwhile), the error says the write was committed and at which position,
    as an error after a commit must."""

    def __init__(self, post_id: str, position: str | None = None) -> None:
        written = (
            "nothing was written"
            if position is None
            else f"the command was committed at position {position}"
        )
        super().__init__(
            f"post {post_id} is not visible to you ({written}); "
            "select `position` and `postId` instead of `post`"
        )
        self.position = position


EXPECTED = (
    DomainError,
    BadPageRequest,
    BadSearch,
    ConsistencyTimeout,
    BadInput,
    HiddenPost,
    Resubscribe,
    RateLimited,
)

# The exception types that mean a store is unreachable (wiring/outages.py names them).
Outages = tuple[type[Exception], ...]

UNAVAILABLE = (
    "A store Inkwell needs cannot be reached; try again shortly. A mutation sent with a "
    "commandId is applied at most once, so it is safe to send again."
)


def too_large(size: int, limit: int) -> str:
    """Why an answer is not sent (RESPONSE_TOO_LARGE), over HTTP or a WebSocket."""
    return (
        f"The answer is {size} bytes, over the limit of {limit}: ask for fewer items "
        "(first, last) or fewer fields."
    )


def code_and_details(error: Exception) -> tuple[str, dict[str, Any]]:
    match error:
        case InvalidInput() | BadPageRequest() | BadInput():
            return "BAD_USER_INPUT", {"field": error.field}
        case BadSearch():
            return "BAD_USER_INPUT", {"field": "query"}
        case CommandIdReused():
            return "BAD_USER_INPUT", {"field": "commandId"}
        case Unauthenticated():
            return "UNAUTHENTICATED", {}
        case Forbidden():
            return "FORBIDDEN", {}
        case NotFound():
            return "NOT_FOUND", {}
        case HiddenPost():
            return "NOT_FOUND", {} if error.position is None else {"position": error.position}
        case ConcurrencyError():
            return "CONFLICT", {"currentVersion": error.current_version}
        case BusinessRuleViolation():
            return "BUSINESS_RULE", {"reason": error.reason}
        case ConsistencyTimeout():
            return "CONSISTENCY_TIMEOUT", {"position": str(error.position)}
        case Resubscribe():
            return "RESUBSCRIBE", {}
        case RateLimited():
            return "RATE_LIMITED", {"retryAfter": error.retry_after}
        case UnreadableHistory():
            return "UNAVAILABLE", {}
    raise TypeError(f"no code for {type(error).__name__}")


# strawberry's token limiter and graphql-core's own bounds on fragment nesting and work
# report plain errors; their wording is the only mark they leave. Pinned strawberry
# 0.341.2 / graphql-core 3.3.2; tests/schema/test_limits.py and tests/security fail if it changes.
TOO_COMPLEX = ("tokens. Parsing aborted", "Validation aborted.")


# graphql-core quotes the client whole: unknown field, argument, directive, type and
# variable names, a string or float given for an Int, an unknown input field in a variable
# (about 200 KB each came back). Every message is bounded where it gets its code, so no
# message of graphql-core's, strawberry's or ours can send back more than an excerpt: an
# unbroken run of characters longer than any name in the schema or id the server writes
# ("comment-" and a UUID, 44) is cut to its first ECHO_MAX, and the whole to MESSAGE_MAX
# (a string literal with spaces in it has no long run).
RUN_MAX = 64
MESSAGE_MAX = 500
LONG_RUN = re.compile(rf"[^\s'\"]{{{RUN_MAX + 1},}}")


def bounded(message: str) -> str:
    """The message with the client's long text cut, its start kept: "Cannot query field
    'xxxx... (200000 characters)' on type 'Query'." still says what was wrong."""
    message = LONG_RUN.sub(lambda run: _cut(run[0], ECHO_MAX), message)
    return _cut(message, MESSAGE_MAX) if len(message) > MESSAGE_MAX else message


def _variable(error: GraphQLError) -> dict[str, str]:
    """`field` naming the variable whose value graphql-core refused, as "$input"."""
    node = error.nodes[0] if error.nodes else None
    if isinstance(node, VariableDefinitionNode):
        return {"field": f"${node.variable.name.value}"}
    return {}


def _cut(text: str, limit: int) -> str:
    return f"{text[:limit]}... ({len(text)} characters)"


def coded(
    error: GraphQLError, hide_suggestions: bool = False, outages: Outages = ()
) -> GraphQLError:
    """The error as the client receives it: with its code, and its message bounded."""
    original = error.original_error
    if original is None:
        message = without_suggestions(error.message) if hide_suggestions else error.message
        if error.extensions and "code" in error.extensions:
            return _with(error, message, error.extensions)
        if any(mark in message for mark in TOO_COMPLEX):
            return _with(error, message, {"code": "QUERY_TOO_COMPLEX"})
        if isinstance(error, GraphQLSyntaxError):  # Apollo Server's code for the same
            return _with(error, message, {"code": "GRAPHQL_PARSE_FAILED"})
        return _with(error, message, {"code": "GRAPHQL_VALIDATION_FAILED"})
    if isinstance(original, EXPECTED):
        code, details = code_and_details(original)
        return _with(error, str(original), {"code": code, **details})
    if isinstance(original, GraphQLError):
        # graphql-core refusing a variable's value ({"t": 5} for a String!): the client's.
        message = without_suggestions(error.message) if hide_suggestions else error.message
        return _with(error, message, {"code": "BAD_USER_INPUT", **_variable(error)})
    if isinstance(original, outages):
        return _with(error, UNAVAILABLE, {"code": "UNAVAILABLE"})
    return _with(error, "Unexpected error.", {"code": "INTERNAL_SERVER_ERROR"})


def _with(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    """The one way an error leaves `coded`: every message passes `bounded` once."""
    return GraphQLError(
        bounded(message),
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions=extensions,
    )


def is_unexpected(error: GraphQLError) -> bool:
    """Neither an answer to the request nor a GraphQL error: an outage, or a fault."""
    return error.original_error is not None and not isinstance(
        error.original_error, (*EXPECTED, GraphQLError)
    )


def code_errors(result: Any, hide_suggestions: bool = False, outages: Outages = ()) -> None:
    """Codes a result's errors in place (InkwellSchema.execute and .stream call it), and
    drops their tracebacks (_drop_tracebacks)."""
    if result is not None and getattr(result, "errors", None):
        raised = result.errors
        result.errors = [coded(error, hide_suggestions, outages) for error in raised]
        for error in (*raised, *result.errors):  # a new error copies its original's
            _drop_tracebacks(error)


def _drop_tracebacks(error: BaseException) -> None:
    """A raised error's traceback holds the frames it passed through, whose locals hold
    the operation, and the operation holds the error: a reference cycle, freed only when
    the cyclic collector runs, with the request's body, variables and `extensions` in
    it. A probe grew a server by 5-10 MB per POST of a 1 MB `extensions` that failed to
    parse, or whose resolver raised. Once the error is logged (process_errors) and coded,
    nothing reads its traceback; its causes' go too."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        found = pending.pop()
        if found is None or id(found) in seen:
            continue
        seen.add(id(found))
        found.__traceback__ = None
        original = getattr(found, "original_error", None)
        pending += [original, found.__cause__, found.__context__]
