"""The Lua scripts projectors run: the read a batch is checked against (under WATCH), and the
writes inside their MULTI, where a read must see the writes before it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

LUA = Path(__file__).parent / "lua"


@dataclass(frozen=True)
class Scripts:
    batch_state: AsyncScript  # read under WATCH, before a runner's MULTI
    hset_with_author: AsyncScript
    refresh_top_comments: AsyncScript
    author_renamed: AsyncScript
    reindex_terms: AsyncScript
    list_under_terms: AsyncScript
    confirm_batch: AsyncScript
    public_events: AsyncScript

    @classmethod
    def register(cls, redis: Redis) -> Scripts:
        library = (LUA / "lib.lua").read_text()
        return cls(
            **{
                name: redis.register_script(library + (LUA / f"{name}.lua").read_text())
                for name in cls.__dataclass_fields__
            }
        )
