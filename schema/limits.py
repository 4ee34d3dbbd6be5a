"""Protective limits on what a GraphQL document may ask (QUERY_TOO_COMPLEX), built once.

The rules are classes, made here once for the life of the process: the validation
cache (schema/operations.py) keys on the document alone, so a rule that changed
between requests would never be applied to a cached document.
"""

from __future__ import annotations

from graphql import ASTValidationRule, specified_rules
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.types.execution import ParseOptions

# The schema has no cycles today, so its deepest query is 9 levels (user > posts > edges >
# node > comments > edges > node > author > name); the depth limit guards the day a cycle
# appears. Introspection does not count.
MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 5_000

# The parser stops counting at MAX_TOKENS, so a huge document costs no more than that.
PARSE_OPTIONS = ParseOptions(max_tokens=MAX_TOKENS)

VALIDATION_RULES: tuple[type[ASTValidationRule], ...] = (
    *specified_rules,
    depth_rule(MAX_DEPTH, None, None),
    aliases_rule(MAX_ALIASES),
)
