"""What persisted queries save per request: bytes on the wire and time, side by side.

One real server (`inkwell serve`, SQLite in a temporary directory, a Redis of the
benchmark's own) holds 30 published posts, the newest with 20 comments. Two
documents, both as Apollo Client sends them (with `__typename`): a feed page, and a
post page with its comments. Each is sent three ways: the whole document in a POST,
its hash alone in a POST (APQ), its hash alone in a GET (APQ, the way a CDN can cache
it), over keep-alive connections (bench/loadgen.py). The cells alternate between the
ways and repeat; the table shows each cell's median.
Run: `python -m bench.persisted_queries [--seconds S] [--repeats N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx2 as httpx
import psutil

from bench import loadgen, report
from bench.private_redis import private_redis
from harness.redis_keys import forget
from harness.server_process import ServerProcess

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("strawberry-graphql", "graphql-core", "starlette", "uvicorn", "httpx2")
ACCEPT = "application/graphql-response+json,application/json;q=0.9"
CONNECTIONS = 8

FEED = """query Feed($first: Int, $after: String) {
  recentPosts(first: $first, after: $after) {
    totalCount
    edges {
      cursor
      node {
        id
        title
        tags
        likeCount
        commentCount
        publishedAt
        author {
          id
          name
          avatarUrl
          __typename
        }
        __typename
      }
      __typename
    }
    pageInfo {
      hasNextPage
      endCursor
      hasPreviousPage
      startCursor
      __typename
    }
    __typename
  }
}"""

POST_PAGE = """query PostPage($id: ID!, $first: Int, $after: String) {
  post(id: $id) {
    id
    version
    title
    content
    tags
    status
    likeCount
    commentCount
    likedByViewer
    createdAt
    updatedAt
    publishedAt
    author {
      id
      name
      avatarUrl
      __typename
    }
    topComments {
      id
      body
      createdAt
      author {
        id
        name
        __typename
      }
      __typename
    }
    comments(first: $first, after: $after) {
      totalCount
      edges {
        cursor
        node {
          id
          body
          createdAt
          author {
            id
            name
            avatarUrl
            __typename
          }
          __typename
        }
        __typename
      }
      pageInfo {
        hasNextPage
        endCursor
        hasPreviousPage
        startCursor
        __typename
      }
      __typename
    }
    __typename
  }
}"""

WAYS = ("POST document", "POST hash (APQ)", "GET hash (APQ)")


def sha(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def request(port: int, way: str, document: str, variables: dict[str, Any]) -> bytes:
    """The bytes of one request naming `document` the given way, ready to send again."""
    name = document.split()[1].split("(")[0]
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha(document)}}
    head = [f"Host: 127.0.0.1:{port}", f"Accept: {ACCEPT}"]
    if way == "GET hash (APQ)":
        query = urlencode(
            {
                "operationName": name,
                "variables": json.dumps(variables, separators=(",", ":")),
                "extensions": json.dumps(extensions, separators=(",", ":")),
            }
        )
        return ("\r\n".join([f"GET /graphql?{query} HTTP/1.1", *head]) + "\r\n\r\n").encode()
    body: dict[str, Any] = {"operationName": name, "variables": variables}
    if way == "POST document":
        body["query"] = document
    else:
        body["extensions"] = extensions
    content = json.dumps(body, separators=(",", ":")).encode()
    head += ["Content-Type: application/json", f"Content-Length: {len(content)}"]
    return ("\r\n".join(["POST /graphql HTTP/1.1", *head]) + "\r\n\r\n").encode() + content


async def seed(client: httpx.AsyncClient) -> str:
    """30 published posts; the newest gets 20 comments. Returns its id."""

    async def call(query: str, variables: dict[str, Any], token: str | None = None) -> Any:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        sent = {"query": query, "variables": variables}
        body = (await client.post("/graphql", json=sent, headers=headers)).json()
        assert "errors" not in body, body
        return body["data"]

    token = (
        await call(
            "mutation($i: RegisterUserInput!) { registerUser(input: $i) { token } }",
            {"i": {"name": "Bench"}},
        )
    )["registerUser"]["token"]
    post_id = ""
    for n in range(30):
        created = await call(
            "mutation($i: CreatePostInput!) { createPost(input: $i) { postId } }",
            {"i": {"title": f"Post {n}", "content": "Text " * 50, "tags": ["bench"]}},
            token,
        )
        post_id = created["createPost"]["postId"]
        await call(
            "mutation($i: PostCommandInput!) { publishPost(input: $i) { position } }",
            {"i": {"postId": post_id}},
            token,
        )
    position = ""
    for n in range(20):
        position = (
            await call(
                "mutation($i: AddCommentInput!) { addComment(input: $i) { position } }",
                {"i": {"postId": post_id, "body": f"Comment {n}"}},
                token,
            )
        )["addComment"]["position"]
    # Wait for the read models: every page then answers in full.
    await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"x-consistent-with": position}
    )
    return post_id


@dataclass(frozen=True)
class Cell:
    load: loadgen.Load
    cpu_seconds: float  # the server process's, user and system

    @property
    def cpu_ms(self) -> float:
        return self.cpu_seconds * 1000 / max(1, self.load.requests)


async def cell(port: int, served_by: psutil.Process, sent: bytes, seconds: float) -> Cell:
    before = sum(served_by.cpu_times()[:2])
    load = await loadgen.hammer(port, sent, connections=CONNECTIONS, seconds=seconds)
    return Cell(load, sum(served_by.cpu_times()[:2]) - before)


async def measure(port: int, pid: int, post_id: str, seconds: float, repeats: int) -> str:
    served_by = psutil.Process(pid)
    documents: dict[str, tuple[str, dict[str, Any]]] = {
        "feed page (20 posts)": (FEED, {"first": 20}),
        "post page (20 comments)": (POST_PAGE, {"id": post_id, "first": 20}),
    }
    rows = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        for label, (document, variables) in documents.items():
            # Registered once, as an Apollo client's first miss and retry would.
            extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha(document)}}
            sent = {"query": document, "variables": variables, "extensions": extensions}
            (await client.post("/graphql", json=sent)).raise_for_status()
            prepared = {way: request(port, way, document, variables) for way in WAYS}
            cells: dict[str, list[Cell]] = {way: [] for way in WAYS}
            for _ in range(repeats):
                for way in WAYS:
                    cells[way].append(await cell(port, served_by, prepared[way], seconds))
            full = len(prepared["POST document"])
            full_cpu = statistics.median(c.cpu_ms for c in cells["POST document"])
            for way in WAYS:
                size = len(prepared[way])
                cpu = statistics.median(c.cpu_ms for c in cells[way])
                rate = statistics.median(c.load.per_second for c in cells[way])
                p50 = statistics.median(c.load.percentile(0.5) * 1000 for c in cells[way])
                rows.append(
                    [f"{label}: {way}", f"{size:,}", f"{size / full:.2f}", f"{cpu:.2f}",
                     f"{cpu / full_cpu:.2f}", f"{p50:.1f}", f"{rate:,.0f}"]
                )  # fmt: skip
                print(" | ".join(rows[-1]), flush=True)
    header = ["document: way", "request bytes", "bytes vs POST document",
              "server CPU ms / request", "CPU vs POST document",
              f"median latency ms ({CONNECTIONS} connections)", "requests/s"]  # fmt: skip
    return report.table(header, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per cell")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of alternating cells")
    parser.add_argument("--redis-url", help="a Redis to use instead of one of its own")
    args = parser.parse_args()
    machine = report.machine(PACKAGES)
    print(f"{report.today()}\n{machine}\n", flush=True)
    began = time.perf_counter()
    prefix = f"bench-apq-{uuid.uuid4().hex[:8]}"
    with (
        tempfile.TemporaryDirectory(prefix="inkwell-apq-") as scratch,
        private_redis(args.redis_url) as redis_url,
    ):
        env = {
            "DATABASE_URL": f"sqlite:///{scratch}/inkwell.db",
            "REDIS_URL": redis_url,
            "INKWELL_PREFIX": prefix,
            "INKWELL_DATA_DIR": f"{scratch}/data",
            "INKWELL_LOG_LEVEL": "WARNING",
        }
        try:
            with ServerProcess(env, Path(scratch)) as server:
                assert server.process is not None
                table = asyncio.run(run(server.port, server.process.pid, args))
        finally:
            forget(redis_url, prefix)
    took = time.perf_counter() - began
    notes = NOTES
    body = f"""## Persisted queries: bytes and time per request

`python -m bench.persisted_queries`, {report.today()}, took {took / 60:.1f} min.
{machine}

One server process; {CONNECTIONS} keep-alive connections; each cell runs {args.seconds:g} s
and the table shows the median of {args.repeats} alternating rounds. Request bytes are
the whole request (request line, headers, body) as sent; the answers are the same bytes
whichever way the document was named.

{table}

{notes}
"""
    print(f"\nwritten to {report.write_section('persisted_queries', body)}")


async def run(port: int, pid: int, args: argparse.Namespace) -> str:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        post_id = await seed(client)
    return await measure(port, pid, post_id, args.seconds, args.repeats)


NOTES = """What this shows: naming the document by its hash sends the request line,
headers, hash and variables instead of the document, whatever its size, so the saving
grows with the document (and matters most on slow uplinks: mobile clients, many
requests per page). The
server's CPU per request is the executor's: a hash resolves (from a memo) to the same
cached parse and validation as the document's text, so no CPU saving is expected, and
the CPU ratios show what this shared machine's noise makes of none. A document's first
use costs one extra round trip (PERSISTED_QUERY_NOT_FOUND, then the retry with the
document), once per server and document while Redis keeps it. GET by hash is what lets
a CDN answer without reaching the server at all."""


if __name__ == "__main__":
    main()
