"""Redis connections whose commands are packed by hiredis, in C.

redis-py's asyncio connection packs every command in Python: the rebuild's profile
showed packing (pack_command, Encoder.encode, isinstance) as the largest share of its
CPU, about ten times hiredis's cost for the same bytes, and yappi under 500 commands/s
put Connection.pack_command at a quarter of the projectors' CPU. hiredis.pack_command
writes the same RESP bytes (checked in tests/projections/test_packed_redis.py), so the
process's pools pack with it (wiring/redis_clients.py), as a rebuild's batches do
(projections/redisio/bulk_pipeline.py).
"""

from __future__ import annotations

from typing import Any

import hiredis
from redis.asyncio import ConnectionPool
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


_PACKED: dict[type[Any], type[Any]] = {
    Connection: PackedConnection,
    UnixDomainSocketConnection: PackedUnixConnection,
}


def pack_in_c(pool: ConnectionPool) -> bool:
    """Has a pool that has not connected yet make hiredis-packing connections; False,
    and the pool unchanged, for a connection kind not covered (TLS)."""
    kind = _PACKED.get(pool.connection_class)
    if kind is not None:
        pool.connection_class = kind
    return kind is not None or pool.connection_class in _PACKED.values()
