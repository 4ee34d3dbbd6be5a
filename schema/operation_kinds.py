"""The kind of operation a document's chosen operation is ("query", "mutation",
"subscription"), read from its text alone, before the schema sees it.

graphql-transport-ws sends every operation as a `subscribe` message, so the subscribe
rate (protection/subscribe_turns.py) tells a subscription from a query or a mutation
sent over a socket by this: those are charged by the query-cost rate, as over HTTP, and
had also waited behind the subscribe rate, up to 69 s past 60 a minute, for a client
that sends every operation over its socket (urql's `enableAllOperations`; an outside
probe).
"""

from __future__ import annotations

from graphql import GraphQLError, OperationDefinitionNode, get_operation_ast, parse

from schema.document_memo import DocumentMemo
from schema.limits import MAX_DOCUMENT_CHARACTERS, PARSE_OPTIONS


def chosen_operation(query: str, operation_name: str | None) -> OperationDefinitionNode | None:
    """The operation `operation_name` chooses, parsed with the schema's token limit; None
    for a document over the limit or that does not parse, or no single operation chosen.
    Without the token limit, a subscribe of 120 KB of field names held the event loop
    272 ms in a parse before the schema refused it (62 ms with it)."""
    if len(query) > MAX_DOCUMENT_CHARACTERS:  # refused by the schema, never parsed
        return None
    try:
        document = parse(query, **PARSE_OPTIONS)
    except GraphQLError:
        return None
    return get_operation_ast(document, operation_name)


def _kind(query: str, operation_name: str | None) -> str | None:
    """None when it cannot be told (`chosen_operation`)."""
    operation = chosen_operation(query, operation_name)
    return None if operation is None else operation.operation.value


operation_kind = DocumentMemo(_kind, 1024)
