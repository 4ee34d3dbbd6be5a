"""What the API tells strangers about itself: introspection, "Did you mean" hints, GraphiQL.

All three help a developer and help an attacker map the API. INKWELL_ENV=production
turns them all off; INKWELL_INTROSPECTION, INKWELL_SUGGESTIONS and INKWELL_GRAPHIQL
(on/off) override one each, in either mode.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

SWITCHES = {"on": True, "off": False}  # as every switch of the README is written
SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


class BadSwitch(ValueError):
    pass


@dataclass(frozen=True)
class Exposure:
    introspection: bool = True
    suggestions: bool = True
    graphiql: bool = True

    @staticmethod
    def from_env(env: Mapping[str, str] = os.environ) -> Exposure:
        environment = env.get("INKWELL_ENV") or "development"
        if environment not in ("development", "production"):
            raise BadSwitch(f"INKWELL_ENV must be development or production, not {environment!r}")
        default = environment != "production"

        def switch(name: str) -> bool:
            value = (env.get(name) or "").strip().lower()
            if not value:
                return default
            if value not in SWITCHES:
                raise BadSwitch(f"{name} must be on or off, not {value!r}")
            return SWITCHES[value]

        return Exposure(
            introspection=switch("INKWELL_INTROSPECTION"),
            suggestions=switch("INKWELL_SUGGESTIONS"),
            graphiql=switch("INKWELL_GRAPHIQL"),
        )


def without_suggestions(message: str) -> str:
    """graphql-core's message minus its hints ("Did you mean 'title'?"), which name fields
    and types an introspection-less API means to keep to itself."""
    return SUGGESTION.sub("", message)
