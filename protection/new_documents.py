"""A document this process has not parsed is charged to its client's query-cost budget,
by its length, before it is parsed.

A document parsed before costs nothing again: the process remembers its parse
(schema/parsed.py) and the schema its validation. A new one costs both, and within every
shape limit (schema/limits/shape.py), validation stopped at its tenth error
(schema/operations.py), that is up to 3.4 µs a character. Lists of wrong items cost more
before those two bounds: 800 unused variables 4-13 µs a character, 1,200 unknown
fields of an input object 95 (an outside probe). An outside probe sent documents of 999
one-field operations (37 KB, under the token limit), each new, five a second from one
address within its request rate. Each took 123-134 ms of the event loop, and another
client's `{ __typename }` went to p50 230-290 ms, p99 1.2 s. `{ __typename }` costs nothing
under the cost limit, so the query-cost budget never saw them.

So a new document costs BASE_UNITS, plus a unit per CHARACTERS_PER_UNIT characters, of
the budget that counts what a client's operations cost (protection/query_cost_rate.py:
about 17 µs of the event loop a unit). Parse and validation measured, best of three:

| document | characters | ms | charged | as ms |
|---|---:|---:|---:|---:|
| 999 operations `query Q_i { __typename }` | 36,782 | 123.1 | 7,456 | 127 |
| 700 one-field fragments | 34,149 | 97.9 | 6,929 | 118 |
| 4,990 `__typename` | 54,893 | 64.8 | 11,078 | 188 |
| a feed query with its fields | 264 | 1.7 | 152 | 2.6 |

The 100,000 a minute an address may spend then take some 13 documents of the first kind,
or 650 small ones: a client sends the same few documents, each charged once per process,
and GraphiQL sends a new one each time someone runs an edit. A text over the character
limit is refused unparsed (schema/operations.py) and costs nothing here.
"""

from __future__ import annotations

from graphql import GraphQLError

from protection.cost_budget import charge
from protection.throttle import RateLimited, throttle_of
from schema.limits import MAX_DOCUMENT_CHARACTERS
from schema.parsed import parsed_document

BASE_UNITS = 100  # a small document's validation: 1.7 ms for 264 characters
CHARACTERS_PER_UNIT = 5


def new_document_cost(text: object, most: int) -> int:
    """What parsing and validating `text` is charged, at most `most` (the budget's
    amount: a charge above it would never fit, and a long document never run): nothing
    when it is no text, is remembered, or is refused unparsed."""
    if not isinstance(text, str) or not text or len(text) > MAX_DOCUMENT_CHARACTERS:
        return 0
    if parsed_document.holds(text):
        return 0
    return min(most, BASE_UNITS + len(text) // CHARACTERS_PER_UNIT)


async def refused_new_document(ctx: object, text: str | None) -> GraphQLError | None:
    """Charges a new document to the request's budgets (its address's, its user's when
    signed in); the RATE_LIMITED error past one, None when charged, free, or when rate
    limits are off."""
    throttle = throttle_of(ctx)
    cost = new_document_cost(text, throttle.query_cost.most) if throttle else 0
    if not cost:
        return None
    try:
        await charge(ctx, cost)
    except RateLimited as limited:
        return GraphQLError(
            f"Query cost budget spent: a document this server has not seen yet costs {cost} "
            f"to parse and validate; try again in {limited.retry_after} s (a document sent "
            "again costs nothing: send the same documents, with variables).",
            extensions={"code": "RATE_LIMITED", "retryAfter": limited.retry_after, "cost": cost},
        )
    return None
