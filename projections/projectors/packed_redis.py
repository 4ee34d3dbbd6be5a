"""A second client on the same Redis whose commands are packed by hiredis, in C.

redis-py's asyncio connection packs every command in Python: the rebuild's profile
showed packing (pack_command, Encoder.encode, isinstance) as the largest share of its
CPU, about ten times hiredis's cost for the same bytes. A rebuild sends hundreds of
thousands of commands, so it packs them with hiredis.pack_command, which writes the
same RESP bytes (checked in tests/projections/test_packed_redis.py).
"""

from __future__ import annotations

from typing import Any

import hiredis
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import Connection, UnixDomainSocketConnection


def _pack(args: tuple[Any, ...]) -> list[bytes]:
    if isinstance(args[0], str) and " " in args[0]:  # "SCRIPT LOAD" is two words on the wire
        args = (*args[0].split(), *args[1:])
    return [hiredis.pack_command(args)]


class PackedConnection(Connection):
    def pack_command(self, *args: Any) -> list[bytes]:
        return _pack(args)


class PackedUnixConnection(UnixDomainSocketConnection):
    def pack_command(self, *args: Any) -> list[bytes]:
        return _pack(args)


def packed_twin(redis: Redis) -> Redis | None:
    """A client like `redis` packing with hiredis, or None for a connection kind it does
    not cover (TLS): the caller then uses `redis` itself."""
    pool = redis.connection_pool
    kinds: dict[type[Any], type[Any]] = {
        Connection: PackedConnection,
        UnixDomainSocketConnection: PackedUnixConnection,
    }
    kind = kinds.get(pool.connection_class)
    if kind is None:
        return None
    return Redis(connection_pool=ConnectionPool(connection_class=kind, **pool.connection_kwargs))
