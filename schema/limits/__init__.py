"""Protective limits on what one GraphQL request may ask for (QUERY_TOO_COMPLEX).

Every check here costs time linear in the document: each fragment is summarised once and
its summary reused wherever it is spread, so a document whose fragments spread each other
twice over (2^20 expanded fields from 1 KB) costs 20 summaries, not 2^20 visits.
"""

from __future__ import annotations

from strawberry.types.execution import ParseOptions

from schema.limits.rules import validation_rules
from schema.limits.shape import ShapeLimits

# The schema has no cycles today, so its deepest query is 9 levels (user > posts > edges >
# node > comments > edges > node > author > name); the depth limit guards the day a cycle
# appears. Introspection does not count.
SHAPE_LIMITS = ShapeLimits()
MAX_DEPTH = SHAPE_LIMITS.max_depth
MAX_ALIASES = SHAPE_LIMITS.max_aliases
MAX_TOKENS = 5_000

# The parser stops counting at MAX_TOKENS, so a huge document costs no more than that.
PARSE_OPTIONS = ParseOptions(max_tokens=MAX_TOKENS)
# But a comment or a string is one token, and graphql-core's lexer reads about 3.6
# characters a microsecond: a 1 MB string literal held the event loop 0.28 s a parse,
# and other clients waited seconds (an outside probe). Longer documents are refused
# before they are parsed: room for a query and a post's longest content (100,000
# characters) written inline; longer texts go in variables, which orjson reads.
MAX_DOCUMENT_CHARACTERS = 131_072

# Built once for the life of the process: the validation cache (schema/operations.py) keys
# on the document alone, so a rule that changed between requests would never apply.
VALIDATION_RULES = validation_rules(SHAPE_LIMITS)
