"""Text typed in the forms search must see through (projections/keyspace/search_words.py)."""

from __future__ import annotations


def fullwidth(text: str) -> str:
    """ASCII letters, digits and punctuation as their fullwidth forms (U+FF01-U+FF5E), as
    an East Asian keyboard types them."""
    return text.translate({code: code + 0xFEE0 for code in range(0x21, 0x7F)})
