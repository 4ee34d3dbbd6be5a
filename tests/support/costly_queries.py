"""Small documents that would cost a server dearly without its query limits."""

from __future__ import annotations

# Each fragment spreads the next twice: 1 KB that expands to 2^20 fields.
FRAGMENT_BOMB = (
    "{ recentPosts { ...F0 } } "
    + " ".join(f"fragment F{i} on PostConnection {{ ...F{i + 1} ...F{i + 1} }}" for i in range(20))
    + " fragment F20 on PostConnection { totalCount }"
)
# 600 copies of one field: quadratic for graphql-core's overlapping-fields rule.
REPEATS = "{" + " ".join("viewer { posts { totalCount } }" for _ in range(600)) + "}"
# 30 aliases x 100 posts x 100 comments: 300,000 comment lookups from 600 bytes.
COSTLY = (
    "{"
    + " ".join(
        f"a{i}: recentPosts(first: 100) {{ edges {{ node {{ comments(first: 100) "
        "{ edges { node { id body } } } } } }"
        for i in range(30)
    )
    + "}"
)
