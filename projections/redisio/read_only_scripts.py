"""The Lua scripts queries read through, run with EVALSHA_RO.

A failover pauses the primary's writes (CLIENT PAUSE WRITE) until the replica has caught
up, and Redis holds back every EVALSHA meanwhile unless the script is flagged no-writes.
The read scripts are (`#!lua flags=no-writes`), but Redis reads the flags from the
script, and a sha it does not know it holds back regardless: after a restart, or on a
replica just promoted (Redis does not copy loaded scripts to replicas), every query that
pages posts waited for the pause's end and answered UNAVAILABLE at its 3 s deadline (an
outside probe, a 10 s pause). EVALSHA_RO is a read command in itself: an unknown sha is
answered NOSCRIPT at once, the script is loaded (SCRIPT LOAD is not held back either) and
run again. Needs Redis 7, as the flags do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError


class ReadOnlyScript:
    """Called as redis-py's registered scripts are: `await script(keys=..., args=...)`."""

    def __init__(self, redis: Redis, source: str) -> None:
        self.registered_client = redis
        self._source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(
        self, keys: Sequence[str] = (), args: Sequence[str | int | float] = ()
    ) -> Any:
        try:
            return await self.registered_client.evalsha_ro(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            await self.registered_client.script_load(self._source)
            return await self.registered_client.evalsha_ro(self.sha, len(keys), *keys, *args)
