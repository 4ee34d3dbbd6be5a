"""How many values a request's variables may hold, counted before graphql-core reads them.

graphql-core converts every variable to its input type on the event loop before any
resolver runs (0.28 s per 100,000 list items, measured here), and nothing bounded a
list's length or an object's keys but the 1 MB body limit. `nodes` refuses more than
100 ids, but only once it runs: an anonymous 800 KB body of 400,000 ids held the loop
1.2-1.5 s per request before that refusal, and four clients sending it kept another
client's `post(id)` at p50 4.2 s, p99 9.4 s (an outside probe); 200,000 tags on an
unsigned createPost, or an input object of 50,000 unknown keys, did the same.

No operation of the schema takes more than about a hundred values (100 ids, 10 tags),
so a thousand leaves room and costs at most a few milliseconds to convert. Counting
stops at the limit: a list or object is measured by its length before it is walked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import GraphQLError
from strawberry.types import ExecutionContext

MAX_VARIABLE_VALUES = 1_000


def past_the_limit(variables: Mapping[str, Any], limit: int = MAX_VARIABLE_VALUES) -> str | None:
    """The variable whose values carry the count past `limit`, or None. Every value
    counts once: a scalar, a list and each of its items, an object and each field."""
    held = 0
    for name, value in variables.items():
        pending = [value]
        while pending:
            value = pending.pop()
            held += 1
            if isinstance(value, list):
                inner: Any = value
            elif isinstance(value, dict):
                inner = value.values()
            else:
                inner = ()
            if held + len(inner) > limit:
                return name
            pending.extend(inner)
    return None


def refuse_many_values(execution: ExecutionContext) -> None:
    """Sets the one pre-execution error BAD_USER_INPUT for variables over the limit."""
    if execution.pre_execution_errors != [] or not isinstance(execution.variables, Mapping):
        return
    name = past_the_limit(execution.variables)
    if name is None:
        return
    execution.pre_execution_errors = [
        GraphQLError(
            f"The variables hold more than {MAX_VARIABLE_VALUES:,} values (${name} takes the "
            "count past it): no operation takes that many (`nodes` takes at most 100 ids, "
            "a post at most 10 tags).",
            extensions={
                "code": "BAD_USER_INPUT",
                "field": f"${name}",
                "maxValues": MAX_VARIABLE_VALUES,
            },
        )
    ]
