"""Number literals longer than any value the schema takes, refused before the standard rules.

graphql-core reads an Int literal with int(), which refuses more than 4,300 digits
(Python's guard against quadratic conversion, left in place): such a literal became a
ValueError, INTERNAL_SERVER_ERROR and a traceback in the log per request, and one just
under the guard came back whole in the "non 32-bit" message. No scalar the schema takes
needs a long number: an Int is at most 11 characters, a Float's shortest exact form at
most 24, and every id is a UUID, never a number.
"""

from __future__ import annotations

from typing import Any

from graphql import BREAK, DocumentNode, FloatValueNode, IntValueNode, Visitor, visit
from graphql.language.visitor import VisitorAction

from domain.errors import excerpt

MAX_NUMBER = 64  # characters of an Int or Float literal, its sign included


Number = IntValueNode | FloatValueNode


def long_number(document: DocumentNode) -> Number | None:
    """The document's first number literal over MAX_NUMBER characters, or None. Looked for
    in the whole document up front: the standard rule checks a list or an input object as
    one value, so it reaches a literal inside one before a rule of ours visits it."""
    found: list[Number] = []

    class Numbers(Visitor):
        def enter_int_value(self, node: IntValueNode, *_: Any) -> VisitorAction:
            return _note(node, found)

        def enter_float_value(self, node: FloatValueNode, *_: Any) -> VisitorAction:
            return _note(node, found)

    visit(document, Numbers())
    return found[0] if found else None


def too_long(number: Number) -> str:
    return (
        f"The number {excerpt(number.value)} is longer than any value this API takes "
        f"(at most {MAX_NUMBER} characters)."
    )


def _note(node: Number, found: list[Number]) -> VisitorAction:
    if len(node.value) <= MAX_NUMBER:
        return None
    found.append(node)
    return BREAK
