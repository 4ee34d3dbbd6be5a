"""`inkwell demo`: the seed's demonstration, narrated.

It creates a post, reads it at once (the read side may not have it yet: that is
eventual consistency), publishes it, reads again, then does the same with the
X-Consistent-With header. At every step it prints what the write side (the SQL
event log) and the read side (Redis) each hold.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from redis.asyncio import Redis
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from cli.environment import quiet_per_command_logs
from eventstore.store import SqlEventStore
from infra.settings import Settings
from projections.keyspace.keys import Keys
from projections.keyspace.spaces import drop_space
from wiring.bootstrap import running

if TYPE_CHECKING:
    import httpx2 as httpx

POST = "query($id: ID!) { post(id: $id) { id title status version } }"
RECENT = "{ recentPosts(first: 5) { totalCount edges { node { title status } } } }"


def demo() -> None:
    """Narrates the seed's flow (create, query, publish, query) on a throwaway database.

    At every step it shows what the write side and the read side each hold."""
    # Imported here, as cli/serving.py imports its app: not by every `inkwell` command.
    import httpx2 as httpx
    from starlette.applications import Starlette

    from wiring.asgi import routes

    logging.getLogger("httpx2").setLevel(logging.WARNING)
    quiet_per_command_logs()

    async def narrate() -> None:
        with tempfile.TemporaryDirectory(prefix="inkwell-demo-") as scratch:
            settings = Settings(
                database_url=f"sqlite:///{scratch}/demo.db",
                redis_url=os.environ.get("REDIS_URL") or None,
                prefix=f"demo-{uuid.uuid4().hex[:8]}",
                host="127.0.0.1",
                port=0,
                data_dir=Path(scratch),
                signing_key=secrets.token_bytes(32),
                consistency_timeout=5.0,
            )
            async with running(settings) as inkwell:
                app = Starlette(routes=routes())
                app.state.services = inkwell.services
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://inkwell"
                ) as client:
                    await Demo(client, inkwell.store, inkwell.redis, inkwell.keys, Console()).run()
                await drop_space(inkwell.redis, settings.prefix)

    asyncio.run(narrate())


class Demo:
    def __init__(
        self,
        client: httpx.AsyncClient,
        store: SqlEventStore,
        redis: Redis,
        keys: Keys,
        console: Console,
    ) -> None:
        self._client = client
        self._store = store
        self._redis = redis
        self._keys = keys
        self._console = console
        self._token = ""

    async def run(self) -> None:
        say = self._console.print
        say(
            Panel(
                "CQRS: commands change state through the write model; queries read a "
                "separate, denormalized read model that events keep up to date.",
                title="Inkwell demo",
            )
        )
        registered = await self._call(
            'mutation { registerUser(input: {name: "Ada"}) { token userId position } }'
        )
        self._token = registered["registerUser"]["token"]

        say("\n[bold]1. Create a post[/] (a command: it is validated, decided, stored as an event)")
        created = (
            await self._call(
                'mutation { createPost(input: {title: "Hello CQRS", content: "Two models.", '
                'tags: ["cqrs"]}) { postId position } }'
            )
        )["createPost"]
        post_id, position = created["postId"], created["position"]
        await self._show(post_id, f"right after the command returned position {position}")

        say("\n[bold]2. Query it at once[/], without waiting (eventual consistency)")
        answer = await self._call(POST, {"id": post_id})
        say(answer)
        if answer["post"] is None:
            say(
                "   [dim]null: the projector has not applied the event yet. "
                "The write is safe in the log.[/]"
            )
        else:
            say("   [dim]Already there: the projector applied the event within milliseconds.[/]")

        say(f"\n[bold]3. Query with X-Consistent-With: {position}[/] (read-your-writes)")
        say(await self._call(POST, {"id": post_id}, consistent_with=position))

        say(
            "\n[bold]4. Publish it[/] "
            "(the aggregate checks the rules: only a draft can be published)"
        )
        published = (
            await self._call(
                "mutation($id: ID!) { publishPost(input: {postId: $id}) { position } }",
                {"id": post_id},
            )
        )["publishPost"]
        await self._show(
            post_id, f"right after the command returned position {published['position']}"
        )

        say("\n[bold]5. Read the feed at once[/], then with the position")
        say(await self._call(RECENT))
        say(await self._call(RECENT, consistent_with=published["position"]))

        say("\n[bold]6. Publish again[/]: the write model refuses, and nothing is appended")
        refused = await self._post(
            "mutation($id: ID!) { publishPost(input: {postId: $id}) { position } }", {"id": post_id}
        )
        say(refused["errors"][0])
        await self._show(post_id, "after the refused command")

    async def _show(self, post_id: str, moment: str) -> None:
        events, version = await self._store.load(f"post-{post_id}")
        table = Table(title=f"What each side holds, {moment}", show_lines=True)
        table.add_column("write side: SQL event log (stream post-…)", overflow="fold")
        table.add_column("read side: Redis hash " + self._keys.post("…"), overflow="fold")
        written = "\n".join(f"v{n}: {type(e).__name__}" for n, e in enumerate(events, 1))
        projected = await self._redis.hgetall(self._keys.post(post_id))
        shown = {
            k: projected[k] for k in ("title", "status", "version", "authorName") if k in projected
        }
        table.add_row(
            f"{written}\n(version {version})",
            orjson.dumps(shown).decode() if shown else "(nothing yet)",
        )
        self._console.print(table)

    async def _call(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        consistent_with: str | None = None,
    ) -> dict[str, Any]:
        body = await self._post(query, variables, consistent_with)
        if "errors" in body:
            raise RuntimeError(body["errors"])
        data: dict[str, Any] = body["data"]
        return data

    async def _post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        consistent_with: str | None = None,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        if consistent_with:
            headers["X-Consistent-With"] = consistent_with
        response = await self._client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        result: dict[str, Any] = response.json()
        return result
