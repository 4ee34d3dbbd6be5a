"""The vocabulary of the sample blogs tests and benchmarks write: few words, so that search
finds each in many posts and tags repeat."""

from __future__ import annotations

import random

WORDS = [
    "redis",
    "event",
    "log",
    "cqrs",
    "read",
    "model",
    "write",
    "side",
    "projection",
    "cursor",
    "feed",
    "tag",
    "search",
]


def text(rng: random.Random, n: int) -> str:
    """`n` words of the vocabulary, drawn with `rng`."""
    return " ".join(rng.choices(WORDS, k=n))
