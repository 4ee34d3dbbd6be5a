"""Trusted documents: the production mode in which only a fixed list of operations runs.

INKWELL_TRUSTED_DOCUMENTS names the list, either Apollo's persisted query manifest (JSON,
as `npx generate-persisted-query-manifest` writes it: `{"format":
"apollo-persisted-query-manifest", "version": 1, "operations": [{"id", "body", ...}]}`)
or a `.graphql` file whose operations each become one document (with the fragments it
spreads), hashed as graphql-core prints it. Clients send the hash, as with APQ; a
server in this mode is also the strongest answer to costly queries, since no query
an attacker writes ever runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    OperationDefinitionNode,
    parse,
    print_ast,
    visit,
)
from graphql.language import Visitor

from schema.persisted import (
    PersistedQueryRefused,
    Runnable,
    check_hash,
    requested_hash,
    sha256,
)

MANIFEST_FORMAT = "apollo-persisted-query-manifest"


class BadTrustedDocuments(ValueError):
    """The file INKWELL_TRUSTED_DOCUMENTS names cannot be read as a list of documents."""


class TrustedDocuments:
    """Production mode: only the listed documents run. An unknown hash is
    PERSISTED_QUERY_NOT_IN_LIST (so Apollo clients do not retry with the text), and a
    document sent as text runs only if its hash is listed (QUERY_NOT_IN_SAFELIST)."""

    def __init__(self, documents: dict[str, str]) -> None:
        self._documents = documents

    def __len__(self) -> int:
        return len(self._documents)

    async def resolve(
        self, query: str | None, extensions: dict[str, Any] | None, runnable: Runnable
    ) -> str | None:
        """The list is the operator's, read at start: nothing is ever added to it, so
        `runnable` is not asked."""
        digest = requested_hash(extensions)
        query = query or None  # WebSocket clients send "" for a document named by hash
        if digest is None:
            if query is None:
                return None
            if sha256(query) not in self._documents:
                raise PersistedQueryRefused(
                    "QUERY_NOT_IN_SAFELIST", "this server runs only its trusted documents"
                )
            return query
        listed = self._documents.get(digest)
        if listed is None:
            raise PersistedQueryRefused(
                "PERSISTED_QUERY_NOT_IN_LIST", "no trusted document has this hash"
            )
        if query is not None:
            check_hash(query, digest)
        return listed


def load_trusted_documents(path: Path) -> TrustedDocuments:
    """Reads the list once, at start; a file that is missing or malformed stops the server."""
    try:
        text = path.read_text()
    except OSError as error:
        raise BadTrustedDocuments(f"cannot read {path}: {error}") from None
    documents = _from_manifest(text, path) if path.suffix == ".json" else _from_graphql(text, path)
    if not documents:
        raise BadTrustedDocuments(f"{path} lists no operation")
    return TrustedDocuments(documents)


def _from_manifest(text: str, path: Path) -> dict[str, str]:
    try:
        manifest: Any = json.loads(text)
    except ValueError as error:
        raise BadTrustedDocuments(f"{path} is not JSON: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise BadTrustedDocuments(f"{path} is not an {MANIFEST_FORMAT}")
    documents = {}
    for operation in manifest.get("operations") or []:
        body = operation.get("body") if isinstance(operation, dict) else None
        if not isinstance(body, str):
            raise BadTrustedDocuments(f"{path}: every operation needs a body")
        digest = sha256(body)
        if operation.get("id", digest) != digest:
            raise BadTrustedDocuments(f"{path}: the id of {operation.get('name')} is not its hash")
        documents[digest] = body
    return documents


def _from_graphql(text: str, path: Path) -> dict[str, str]:
    try:
        document = parse(text)
    except GraphQLError as error:
        raise BadTrustedDocuments(f"{path} does not parse: {error.message}") from None
    fragments = {
        node.name.value: node
        for node in document.definitions
        if isinstance(node, FragmentDefinitionNode)
    }
    documents = {}
    for node in document.definitions:
        if isinstance(node, OperationDefinitionNode):
            body = print_ast(DocumentNode(definitions=(node, *_spread(node, fragments))))
            documents[sha256(body)] = body
    return documents


def _spread(
    node: OperationDefinitionNode | FragmentDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
) -> list[FragmentDefinitionNode]:
    """The fragments an operation uses, directly or through other fragments, in file order."""
    used: dict[str, FragmentDefinitionNode] = {}
    pending = [node]
    while pending:
        names = _spread_names(pending.pop())
        for name in names:
            if name not in used and name in fragments:
                used[name] = fragments[name]
                pending.append(fragments[name])
    return [fragment for name, fragment in fragments.items() if name in used]


def _spread_names(node: OperationDefinitionNode | FragmentDefinitionNode) -> list[str]:
    names: list[str] = []

    class Spreads(Visitor):
        def enter_fragment_spread(self, spread: FragmentSpreadNode, *_: Any) -> None:
            names.append(spread.name.value)

    visit(node, Spreads())
    return names
