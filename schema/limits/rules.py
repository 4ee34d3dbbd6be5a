"""The validation rules Inkwell runs, built once per schema so graphql's ValidationCache
(keyed on the rule classes) hits for every repeated document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    ValidationContext,
    specified_rules,
)
from graphql.language.visitor import SKIP, VisitorAction

from schema.limits.literals import Number, long_number, too_long
from schema.limits.shape import ShapeLimits, problem

TOO_COMPLEX = "QUERY_TOO_COMPLEX"
T = TypeVar("T")


def validation_rules(limits: ShapeLimits) -> tuple[type[ASTValidationRule], ...]:
    """graphql-core's standard rules behind the shape limits and the length of number
    literals: a document either refuses is not walked by the others (the
    overlapping-fields rule is quadratic in repeated fields: 600 copies of one field cost
    it 1.2 s; the values rule raises on an Int literal of over 4,300 digits)."""

    def too_complex(context: ValidationContext) -> str | None:
        return _once(context, "_inkwell_shape", lambda document: problem(document, limits))

    def long_literal(context: ValidationContext) -> Number | None:
        return _once(context, "_inkwell_numbers", long_number)

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
            if too_complex(self.context) is not None or long_literal(self.context) is not None:
                return SKIP
            return entered(self, node, *args) if entered else None

        return type(rule.__name__, (rule,), {"enter_document": enter_document})

    class LongNumberRule(ASTValidationRule):
        """A number literal longer than any scalar takes: GRAPHQL_VALIDATION_FAILED."""

        def enter_document(self, node: DocumentNode, *_: Any) -> VisitorAction:
            assert isinstance(self.context, ValidationContext)
            number = long_literal(self.context)
            if number is not None:
                self.report_error(GraphQLError(too_long(number), number))
            return SKIP

    standard = (behind_limits(rule) for rule in specified_rules)
    return (ShapeLimitRule, LongNumberRule, *standard)


def _once(context: ValidationContext, name: str, check: Callable[[DocumentNode], T]) -> T:
    """`check` of the context's document, computed once per validation: several rules ask."""
    cached: dict[int, T] = context.__dict__.setdefault(name, {})
    key = id(context.document)
    if key not in cached:
        cached[key] = check(context.document)
    return cached[key]
