"""The parse of a document's text, remembered once for the process.

The schema's preparation (schema/operations.py), the subscribe rate's check of an
operation's kind (schema/operation_kinds.py) and the choice of a shared subscription
(schema/multiplex.py) all read a document's parse. Each had a memo of its own, so a
130 KB comment-padded query sent over a socket was parsed four times, where over HTTP
once: at the same counted rate another client's p50 was 39-61 ms against 6-8 ms (a
re-check probe). The parse depends on the text alone (and the fixed token limit).
"""

from __future__ import annotations

from graphql import DocumentNode, GraphQLError, parse

from schema.document_memo import DocumentMemo
from schema.limits import MAX_DOCUMENT_CHARACTERS, PARSE_OPTIONS

# Distinct document texts remembered (and their characters: schema/document_memo.py), so
# unique texts from an attacker only evict. Clients send a handful of documents.
CACHED_DOCUMENTS = 256


def _parse(query: str) -> DocumentNode | None:
    """None for a document over the character limit (refused unparsed) or that does not
    parse. With the token limit: without it, 120 KB of field names held the event loop
    272 ms in one parse before the schema refused it (62 ms with it)."""
    if len(query) > MAX_DOCUMENT_CHARACTERS:
        return None
    try:
        return parse(query, **PARSE_OPTIONS)
    except GraphQLError:
        return None


parsed_document = DocumentMemo(_parse, CACHED_DOCUMENTS)
