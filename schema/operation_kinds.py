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

from graphql import OperationDefinitionNode, get_operation_ast

from schema.document_memo import DocumentMemo
from schema.parsed import parsed_document


def chosen_operation(query: str, operation_name: str | None) -> OperationDefinitionNode | None:
    """The operation `operation_name` chooses; None for a document that is not parsed
    (schema/parsed.py) or no single operation chosen."""
    document = parsed_document(query)
    return None if document is None else get_operation_ast(document, operation_name)


def _kind(query: str, operation_name: str | None) -> str | None:
    """None when it cannot be told (`chosen_operation`)."""
    operation = chosen_operation(query, operation_name)
    return None if operation is None else operation.operation.value


operation_kind = DocumentMemo(_kind, 1024)
