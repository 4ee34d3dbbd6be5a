"""The validation rules Inkwell runs, built once per schema so graphql's ValidationCache
(keyed on the rule classes) hits for every repeated document."""

from __future__ import annotations

from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    ValidationContext,
    specified_rules,
)
from graphql.language.visitor import SKIP, VisitorAction

from schema.limits.shape import ShapeLimits, problem

TOO_COMPLEX = "QUERY_TOO_COMPLEX"


def validation_rules(limits: ShapeLimits) -> tuple[type[ASTValidationRule], ...]:
    """graphql-core's standard rules behind the shape limits: a document the limits refuse
    is not walked by the others (the overlapping-fields rule is quadratic in repeated
    fields: 600 copies of one field cost it 1.2 s)."""

    def too_complex(context: ValidationContext) -> str | None:
        # Both rules below ask; the document is summarised once per validation.
        cached: dict[int, str | None] = context.__dict__.setdefault("_inkwell_shape", {})
        key = id(context.document)
        if key not in cached:
            cached[key] = problem(context.document, limits)
        return cached[key]

    class ShapeLimitRule(ASTValidationRule):
        """Depth, aliases, expanded fields, repeats and nesting: QUERY_TOO_COMPLEX."""

        def enter_document(self, node: DocumentNode, *_: Any) -> VisitorAction:
            assert isinstance(self.context, ValidationContext)
            reason = too_complex(self.context)
            if reason is not None:
                self.report_error(
                    GraphQLError(
                        f"Query too complex: {reason}.", node, extensions={"code": TOO_COMPLEX}
                    )
                )
            return SKIP

    def behind_limits(rule: type[ASTValidationRule]) -> type[ASTValidationRule]:
        entered = getattr(rule, "enter_document", None)

        def enter_document(self: ASTValidationRule, node: DocumentNode, *args: Any) -> Any:
            assert isinstance(self.context, ValidationContext)
            if too_complex(self.context) is not None:
                return SKIP
            return entered(self, node, *args) if entered else None

        return type(rule.__name__, (rule,), {"enter_document": enter_document})

    return (ShapeLimitRule, *(behind_limits(rule) for rule in specified_rules))
