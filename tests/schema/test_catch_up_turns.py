"""An address's resumed catch-ups are charged and read one at a time, in a process: each
is charged its bound while it is read, and two resumed at once on one socket held two
bounds together, so the second was refused for 105 s though both cost about 40 (a
re-check probe). Other addresses do not wait for them."""

from __future__ import annotations

import asyncio

from schema.subscriptions import catch_up_turn


async def test_an_addresss_catch_ups_take_turns_and_others_do_not_wait() -> None:
    order: list[str] = []

    async def catch_up(name: str, address: str, reading: asyncio.Event) -> None:
        async with catch_up_turn(address):
            order.append(f"{name} charged")
            await reading.wait()
            order.append(f"{name} given back")

    first_read, second_read, other_read = asyncio.Event(), asyncio.Event(), asyncio.Event()
    tasks = [
        asyncio.create_task(catch_up("first", "203.0.113.7", first_read)),
        asyncio.create_task(catch_up("second", "203.0.113.7", second_read)),
        asyncio.create_task(catch_up("other", "198.51.100.2", other_read)),
    ]
    await asyncio.sleep(0.01)
    assert order == ["first charged", "other charged"]  # the second waits its turn
    second_read.set()
    other_read.set()
    await asyncio.sleep(0.01)
    assert order == ["first charged", "other charged", "other given back"]
    first_read.set()
    await asyncio.gather(*tasks)
    assert order[3:] == ["first given back", "second charged", "second given back"]
