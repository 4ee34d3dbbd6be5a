"""GraphQL over HTTP: Inkwell against the same shapes served from constants, side by side.

Two real servers run at once, both uvicorn with uvloop and httptools: `python
server.py serve` (SQLite, a redis-server of the benchmark's own, request logs on
as by default, to a file; its projectors in the child process it starts) and
`bench.constant_api`, which serves Inkwell's own GraphQL types from constants with
strawberry's parser and validation caches: the ceiling of the stack. A load
generator (bench/loadgen.py, another process) keeps 32 keep-alive connections busy
against one of them at a time for a fixed time; the cells alternate between the two
servers and repeat, and the table shows medians.

Shapes: `{ __typename }`; `post(id)` with author, counts and the three top
comments; `recentPosts(first: 20)` with the same per post; `createPost` answering
`position` (Inkwell appends the event and commits, synchronous=FULL). Then
Inkwell's `post(id)` runs again under py-spy. Run: `python -m bench.http_throughput
[--quick]`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import psutil
import uvloop

from bench import constant_api, loadgen, profiles, report
from bench.private_redis import private_redis
from harness.net import free_port
from harness.redis_keys import forget
from harness.server_process import ROOT, ServerProcess

PACKAGES = ("strawberry-graphql", "graphql-core", "starlette", "uvicorn", "uvloop", "redis")
CONNECTIONS = 32
SYSTEMS = ("Inkwell", "constants")

POST = """query Post($id: ID!) { post(id: $id) { id title content likeCount commentCount
  author { id name avatarUrl } topComments { id body createdAt author { name } } } }"""
FEED = """query Feed { recentPosts(first: 20) { edges { cursor node { id title likeCount
  commentCount author { id name } topComments { body createdAt author { name } } } }
  pageInfo { hasNextPage endCursor } } }"""
CREATE = "mutation Create($i: CreatePostInput!) { createPost(input: $i) { position } }"
TYPENAME = "{ __typename }"
SHAPES = ("{ __typename }", "post(id)", "recentPosts(first: 20)", "createPost")
TARGETS = {"post(id)": 0.70, "recentPosts(first: 20)": 0.70, "createPost": 0.50}

REGISTER = "mutation($i: RegisterUserInput!) { registerUser(input: $i) { token } }"
MAKE = "mutation($i: CreatePostInput!) { createPost(input: $i) { postId } }"
PUBLISH = "mutation($i: PostCommandInput!) { publishPost(input: $i) { position } }"
COMMENT = "mutation($i: AddCommentInput!) { addComment(input: $i) { position } }"
LIKE = "mutation($i: PostCommandInput!) { likePost(input: $i) { position } }"


@dataclass(frozen=True)
class Cell:
    load: loadgen.Load
    server_cpu: float  # seconds of the server's CPU over the cell, its children's included

    @property
    def busy(self) -> float:
        return self.server_cpu / self.load.seconds if self.load.seconds else 0.0


class Seeder:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def call(self, query: str, variables: dict[str, object], token: str = "") -> dict:  # type: ignore[type-arg]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"seeding failed: {body}")
        return body["data"]  # type: ignore[no-any-return]

    async def blog(self) -> tuple[str, str]:
        """30 published posts; the newest has 5 comments and 3 likes. Returns it and a token."""
        author = (await self.call(REGISTER, {"i": {"name": "Author"}}))["registerUser"]["token"]
        readers = [
            (await self.call(REGISTER, {"i": {"name": f"Reader {n}"}}))["registerUser"]["token"]
            for n in range(5)
        ]
        post_id = ""
        for _ in range(30):
            made = await self.call(
                MAKE, {"i": {"title": constant_api.TITLE, "content": constant_api.CONTENT,
                             "tags": ["bench"]}}, author,
            )  # fmt: skip
            post_id = made["createPost"]["postId"]
            await self.call(PUBLISH, {"i": {"postId": post_id}}, author)
        comment: dict[str, object] = {"i": {"postId": post_id, "body": constant_api.COMMENT}}
        for reader in readers:
            await self.call(COMMENT, comment, reader)
        for reader in readers[:3]:
            done = await self.call(LIKE, {"i": {"postId": post_id}}, reader)
        self.client.headers["X-Consistent-With"] = done["likePost"]["position"]
        await self.call("{ projections { lag } }", {})
        del self.client.headers["X-Consistent-With"]
        return post_id, author


def requests(port: int, post_id: str, token: str) -> dict[str, bytes]:
    return {
        "{ __typename }": loadgen.graphql_request(port, TYPENAME),
        "post(id)": loadgen.graphql_request(port, POST, {"id": post_id}),
        "recentPosts(first: 20)": loadgen.graphql_request(port, FEED),
        "createPost": loadgen.graphql_request(
            port, CREATE, {"i": {"title": "Benchmark", "content": "Text."}}, token
        ),
    }


async def cell(port: int, pid: int, request: bytes, seconds: float) -> Cell:
    """The server's CPU is read from the end of the warm-up, as the requests are counted:
    read from the start, it put every cell's busy share and CPU per request a sixth too
    high (3.5 s of CPU over 3 s of counted requests)."""
    load_task = asyncio.create_task(
        loadgen.hammer(port, request, connections=CONNECTIONS, seconds=seconds)
    )
    await asyncio.sleep(loadgen.WARMUP)
    before = server_cpu(pid)
    load = await load_task
    return Cell(load, server_cpu(pid) - before)


def server_cpu(pid: int) -> float:
    """Seconds of CPU of the server process and of its children (`serve`'s projector
    process: its work on each event is part of what a write costs)."""
    process = psutil.Process(pid)
    return sum(sum(p.cpu_times()[:2]) for p in (process, *process.children(recursive=True)))


class ConstantServer:
    def __init__(self, scratch: Path) -> None:
        self.port = free_port()
        self.log = scratch / "constant-api.log"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ConstantServer:
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bench.constant_api", str(self.port)],
                cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.post(f"http://127.0.0.1:{self.port}/graphql",
                              json={"query": TYPENAME}).status_code == 200:  # fmt: skip
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(self.log.read_text())
            time.sleep(0.1)

    def __exit__(self, *_: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(30)


Results = dict[tuple[str, str], list[Cell]]


async def measure(
    servers: dict[str, tuple[int, int]], bodies: dict[str, dict[str, bytes]],
    seconds: float, repeats: int,
) -> Results:  # fmt: skip
    results: Results = {}
    for repeat in range(repeats):
        for shape in SHAPES:
            for system in SYSTEMS:
                port, pid = servers[system]
                done = await cell(port, pid, bodies[system][shape], seconds)
                results.setdefault((system, shape), []).append(done)
                print(
                    f"  [{repeat + 1}/{repeats}] {system:9} {shape:24} "
                    f"{done.load.per_second:8,.0f} req/s  p99 "
                    f"{done.load.percentile(0.99) * 1000:6.1f} ms  server busy {done.busy:4.0%}",
                    flush=True,
                )
    return results


def rate(cells: list[Cell]) -> float:
    return statistics.median(c.load.per_second for c in cells)


def cpu_per_request(cells: list[Cell]) -> float:
    """Microseconds of the server's CPU per answered request, median over the runs."""
    return statistics.median(c.server_cpu / c.load.requests * 1e6 for c in cells)


def summary_rows(results: Results) -> list[report.Row]:
    rows = []
    for shape in SHAPES:
        ours, ceiling = rate(results[("Inkwell", shape)]), rate(results[("constants", shape)])
        target = TARGETS.get(shape)
        rows.append(
            report.Row(
                measure=f"`{shape}` over HTTP, req/s",
                inkwell=f"{ours:,.0f}",
                reference=f"{ceiling:,.0f} (constants, cached strawberry)",
                ratio=f"{ours / ceiling:.2f}",
                target=f">= {target:.2f}" if target else "(none)",
                met=target is None or ours / ceiling >= target,
            )
        )
    return rows


def results_table(results: Results) -> tuple[str, dict[str, float]]:
    rows, ratios = [], {}
    for shape in SHAPES:
        ours, ceiling = results[("Inkwell", shape)], results[("constants", shape)]
        ratio = rate(ours) / rate(ceiling)
        ratios[shape] = ratio
        target = TARGETS.get(shape)
        rows.append(
            [
                f"`{shape}`", f"{rate(ours):,.0f}", f"{rate(ceiling):,.0f}", f"{ratio:.2f}",
                f">= {target:.2f}" if target else "",
                ("met" if ratio >= target else "missed") if target else "",
                f"{statistics.median(c.load.percentile(0.99) for c in ours) * 1000:.1f}",
                f"{statistics.median(c.busy for c in ours):.0%}",
                f"{cpu_per_request(ours):,.0f} / {cpu_per_request(ceiling):,.0f}",
                f"{cpu_per_request(ceiling) / cpu_per_request(ours):.2f}",
                " / ".join(", ".join(f"{c.load.per_second:,.0f}" for c in cells)
                           for cells in (ours, ceiling)),
            ]
        )  # fmt: skip
    header = [
        "shape", "Inkwell req/s", "constants req/s", "ratio", "target", "",
        "Inkwell p99 ms", "Inkwell server busy", "server CPU µs per request (Inkwell / constants)",
        "ratio by CPU (constants µs ÷ Inkwell µs)",
        "every run, req/s (Inkwell / constants)",
    ]  # fmt: skip
    return report.table(header, rows), ratios


async def profile(port: int, pid: int, request: bytes, seconds: float, scratch: Path) -> str:
    if profiles.py_spy() is None:
        return "py-spy is not installed (`pip install -e '.[bench]'`): no profile."
    load_task = asyncio.create_task(
        loadgen.hammer(port, request, connections=CONNECTIONS, seconds=seconds + 1, warmup=0)
    )
    await asyncio.sleep(0.5)
    stacks: Counter[str] = await asyncio.to_thread(
        profiles.record, pid, seconds, scratch / "post.raw"
    )
    await load_task
    rows = [[name, f"{share:.0%}"] for name, share in profiles.summary(stacks)]
    return (
        f"py-spy on the Inkwell server under `post(id)` load, {sum(stacks.values()):,} samples "
        "(share of samples whose stack holds the frame):\n\n"
        + report.table(["where", "share of samples"], rows)
    )


async def run(args: argparse.Namespace, scratch: Path) -> tuple[Results, str]:
    prefix = f"bench-http-{uuid.uuid4().hex[:8]}"
    env = {
        "DATABASE_URL": f"sqlite:///{scratch / 'inkwell.db'}",
        "REDIS_URL": args.redis_url,
        "INKWELL_PREFIX": prefix,
        "INKWELL_DATA_DIR": str(scratch / "data"),
        "INKWELL_CONSISTENCY_TIMEOUT": "30",
        "INKWELL_RATE_LIMITS": "off",  # one load generator, one address: no limits
    }
    try:
        with ServerProcess(env, scratch) as inkwell, ConstantServer(scratch) as constants:
            assert inkwell.process is not None and constants.process is not None
            async with httpx.AsyncClient(base_url=inkwell.url, timeout=60) as client:
                post_id, token = await Seeder(client).blog()
            servers = {
                "Inkwell": (inkwell.port, inkwell.process.pid),
                "constants": (constants.port, constants.process.pid),
            }
            bodies = {
                system: requests(port, post_id, token) for system, (port, _) in servers.items()
            }
            results = await measure(servers, bodies, args.seconds, args.repeats)
            profiled = await profile(
                inkwell.port, inkwell.process.pid, bodies["Inkwell"]["post(id)"],
                args.seconds, scratch,
            )  # fmt: skip
            return results, profiled
    finally:
        forget(args.redis_url, prefix)


def document(results: Results, profiled: str, args: argparse.Namespace, machine: str,
             took: float) -> str:  # fmt: skip
    table, _ = results_table(results)
    intro = __doc__.split("\n\n", 1)[1].rsplit("Run:", 1)[0].strip()
    return f"""## GraphQL over HTTP: Inkwell against the stack's ceiling

`python -m bench.http_throughput`, {report.today()}, took {took / 60:.1f} min.
Machine: {machine}.

{intro}

Each cell ran {args.seconds:g} s after a 0.5 s warm-up, {args.repeats} time(s), with
{CONNECTIONS} connections: medians, then every run. The ratio is Inkwell's rate over the
constants' rate for the same shape. "Server busy" is the server's CPU time over the
cell's wall time (100% is one core), its children's included (Inkwell's projector
process: its work on each event is part of what a write costs). Under 100% for the
constants, or for a read, means the machine, not the server, set the pace; then the
ratio by CPU per request is the steadier figure (what the two would reach with a core
each).

{table}

{profiled}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 s cells, once; docs untouched")
    parser.add_argument("--redis-url", help="default: a redis-server of its own")
    args = parser.parse_args()
    args.seconds, args.repeats = (1.0, 1) if args.quick else (3.0, 3)
    machine = report.machine(PACKAGES)
    print(f"{report.today()}\n{machine}\n", flush=True)
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="inkwell-http-") as scratch,
        private_redis(args.redis_url) as args.redis_url,
    ):
        results, profiled = uvloop.run(run(args, Path(scratch)))
    text = document(results, profiled, args, machine, time.monotonic() - started)
    print("\n" + text)
    if not args.quick:
        print(f"written to {report.write_section('http_throughput', text)}")
        report.write_summary("http_throughput", summary_rows(results))


if __name__ == "__main__":
    main()
