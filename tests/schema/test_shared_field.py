"""Which subscriptions a socket handler joins to a shared group (schema/multiplex.py): it
reads the document before the schema does, so it must not read more than the schema would."""

from __future__ import annotations

from schema.limits import MAX_DOCUMENT_CHARACTERS, MAX_TOKENS
from schema.multiplex import shared_field


def test_a_subscription_of_one_shared_field_is_shared() -> None:
    assert shared_field('subscription { post(id: "x") { id } }', None) == "post"
    assert shared_field("subscription { feed { id } }", None) is None
    assert shared_field("{ __typename }", None) is None


def test_a_document_past_the_schemas_limits_is_not_read_through() -> None:
    """Parsed without the token limit, a subscribe of 120 KB of field names held the event
    loop 272 ms before the schema refused it."""
    many = " ".join(f"a{n}" for n in range(MAX_TOKENS))
    assert shared_field(f'subscription {{ post(id: "x") {{ {many} }} }}', None) is None
    long = 'subscription { post(id: "x") { id } } #' + "x" * MAX_DOCUMENT_CHARACTERS
    assert shared_field(long, None) is None
