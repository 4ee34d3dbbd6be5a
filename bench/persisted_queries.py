"""What persisted queries save per request: bytes on the wire and time, side by side.

One real server (`python server.py serve`, SQLite in a temporary directory, the
machine's Redis under a throwaway key prefix) holds 30 published posts with
comments. Two documents, both as Apollo Client sends them (with `__typename`): a
feed page, and a post page with its comments. Each is sent three ways: the whole
document in a POST, its hash alone in a POST (APQ), its hash alone in a GET (APQ, the
way a CDN can cache it). The rounds alternate between the ways and repeat; the table
shows each cell's median. Run: `python -m bench.persisted_queries [--quick]`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx
import psutil
import redis

from bench import report

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "benchmarks" / "persisted_queries.md"
PACKAGES = ("strawberry-graphql", "graphql-core", "starlette", "uvicorn", "httpx2")
ACCEPT = "application/graphql-response+json,application/json;q=0.9"
CONCURRENCY = 4

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
HASH_REQUEST_BYTES = 340  # a POST naming its document by hash, headers included


def sha(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def request(way: str, document: str, variables: dict[str, Any]) -> httpx.Request:
    name = document.split()[1].split("(")[0]
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha(document)}}
    headers = {"accept": ACCEPT}
    if way == "GET hash (APQ)":
        params = {
            "operationName": name,
            "variables": json.dumps(variables, separators=(",", ":")),
            "extensions": json.dumps(extensions, separators=(",", ":")),
        }
        return httpx.Request("GET", "http://127.0.0.1/graphql", params=params, headers=headers)
    body: dict[str, Any] = {"operationName": name, "variables": variables}
    if way == "POST document":
        body["query"] = document
    else:
        body["extensions"] = extensions
    content = json.dumps(body, separators=(",", ":")).encode()
    headers["content-type"] = "application/json"
    return httpx.Request("POST", "http://127.0.0.1/graphql", content=content, headers=headers)


def wire_bytes(sent: httpx.Request) -> int:
    """The request as HTTP/1.1 puts it on the wire: request line, headers, body."""
    target = sent.url.raw_path.decode()
    lines = [f"{sent.method} {target} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in sent.headers.items()]
    return len(("\r\n".join(lines) + "\r\n\r\n").encode()) + len(sent.content)


@contextmanager
def server(directory: Path, redis_url: str) -> Iterator[tuple[str, psutil.Process]]:
    port = free_port()
    prefix = f"bench-apq-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{directory / 'events.db'}",
        "REDIS_URL": redis_url,
        "INKWELL_PREFIX": prefix,
        "INKWELL_DATA_DIR": str(directory),
        "INKWELL_LOG_LEVEL": "WARNING",
        "PORT": str(port),
    }
    log = (directory / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py"), "serve"], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.post(f"{url}/graphql", json={"query": "{ __typename }"})
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError((directory / "server.log").read_text()) from None
                time.sleep(0.2)
        yield url, psutil.Process(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            client.delete(key)
        client.close()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def seed(url: str) -> str:
    """30 published posts; the newest gets 20 comments. Returns its id."""
    with httpx.Client(base_url=url, timeout=30) as client:

        def call(query: str, variables: dict[str, Any], token: str | None = None) -> Any:
            headers = {"authorization": f"Bearer {token}"} if token else {}
            body = client.post(
                "/graphql", json={"query": query, "variables": variables}, headers=headers
            ).json()
            assert "errors" not in body, body
            return body["data"]

        token = call(
            "mutation($i: RegisterUserInput!) { registerUser(input: $i) { token } }",
            {"i": {"name": "Bench"}},
        )["registerUser"]["token"]
        post_id = ""
        for n in range(30):
            post_id = call(
                "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }",
                {"i": {"title": f"Post {n}", "content": "Text " * 50, "tags": ["bench"]}},
                token,
            )["createPost"]["post"]["id"]
            call(
                "mutation($i: PostCommandInput!) { publishPost(input: $i) { position } }",
                {"i": {"postId": post_id}},
                token,
            )
        for n in range(20):
            call(
                "mutation($i: AddCommentInput!) { addComment(input: $i) { position } }",
                {"i": {"postId": post_id, "body": f"Comment {n}"}},
                token,
            )
        return post_id


async def timed_round(
    url: str, served_by: psutil.Process, sent: httpx.Request, requests: int
) -> tuple[float, float, float]:
    """(median latency in ms, requests per second, server CPU ms per request) with
    CONCURRENCY clients at once."""
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def worker(count: int) -> None:
            for _ in range(count):
                began = time.perf_counter()
                response = await client.send(
                    client.build_request(
                        sent.method,
                        sent.url.raw_path.decode(),
                        headers=sent.headers,
                        content=sent.content,
                    )
                )
                assert response.status_code == 200 and "errors" not in response.json(), (
                    response.text
                )
                latencies.append((time.perf_counter() - began) * 1000)

        cpu = served_by.cpu_times()
        began = time.perf_counter()
        await asyncio.gather(*(worker(requests // CONCURRENCY) for _ in range(CONCURRENCY)))
        took = time.perf_counter() - began
        after = served_by.cpu_times()
    cpu_ms = (after.user + after.system - cpu.user - cpu.system) * 1000 / len(latencies)
    return statistics.median(latencies), len(latencies) / took, cpu_ms


def measure(url: str, served_by: psutil.Process, post_id: str, rounds: int, requests: int) -> str:
    documents: dict[str, tuple[str, dict[str, Any]]] = {
        "feed page (20 posts)": (FEED, {"first": 20}),
        "post page (20 comments)": (POST_PAGE, {"id": post_id, "first": 20}),
    }
    rows = []
    for label, (document, variables) in documents.items():
        # Register the document once, as an Apollo client's first miss-and-retry would.
        register = request("POST document", document, variables)
        register.headers["content-type"] = "application/json"
        body = json.loads(register.content)
        body["extensions"] = {"persistedQuery": {"version": 1, "sha256Hash": sha(document)}}
        httpx.post(f"{url}/graphql", json=body, headers={"accept": ACCEPT}).raise_for_status()
        sent = {way: request(way, document, variables) for way in WAYS}
        cells: dict[str, list[tuple[float, float, float]]] = {way: [] for way in WAYS}
        for _ in range(rounds):
            for way in WAYS:
                cells[way].append(asyncio.run(timed_round(url, served_by, sent[way], requests)))
        full = wire_bytes(sent["POST document"])
        full_cpu = statistics.median(cpu for _, _, cpu in cells["POST document"])
        for way in WAYS:
            size = wire_bytes(sent[way])
            latency = statistics.median(ms for ms, _, _ in cells[way])
            rate = statistics.median(r for _, r, _ in cells[way])
            cpu = statistics.median(c for _, _, c in cells[way])
            rows.append(
                [
                    f"{label}: {way}",
                    f"{size:,}",
                    f"{size / full:.2f}",
                    f"{cpu:.2f}",
                    f"{cpu / full_cpu:.2f}",
                    f"{latency:.1f}",
                    f"{rate:,.0f}",
                ]
            )
            print(" | ".join(rows[-1]), flush=True)
    return report.table(
        [
            "document: way",
            "request bytes",
            "bytes vs POST document",
            "server CPU ms / request",
            "CPU vs POST document",
            f"median latency ms ({CONCURRENCY} clients)",
            "requests/s",
        ],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    arguments = parser.parse_args()
    rounds, requests = (2, 80) if arguments.quick else (3, 240)
    machine = report.machine(PACKAGES)
    print(f"{report.today()}\n{machine}\n", flush=True)
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    began = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="inkwell-apq-") as scratch,
        server(Path(scratch), redis_url) as (url, served_by),
    ):
        table = measure(url, served_by, seed(url), rounds, requests)
    took = time.perf_counter() - began
    quick = " --quick" if arguments.quick else ""
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(
        f"""## Persisted queries: bytes and time per request

`python -m bench.persisted_queries{quick}`, {report.today()}, took {took / 60:.1f} min.
{machine}

One server process on this machine; {CONCURRENCY} concurrent keep-alive clients; each
cell is the median of {rounds} alternating rounds of {requests} requests. Request
bytes count the request line, headers and body as HTTP/1.1 sends them; the answers
are the same bytes whichever way the document was named.

{table}

What this shows: naming the document by its hash sends a fixed ~{HASH_REQUEST_BYTES}
bytes instead of the document, whatever its size, so the saving grows with the
document (and matters most on slow uplinks: mobile clients, many requests per page).
The server's CPU per request is the executor's: the memo turns a hash into the same
cached parse and validation as the document's text, so no CPU saving is expected,
and the CPU ratios show what this shared machine's noise makes of none. A document's first use costs one extra round trip (the
PERSISTED_QUERY_NOT_FOUND answer and the retry), once per server and document while
Redis keeps it. GET by hash is what lets a CDN answer without reaching the server.
"""
    )
    print(f"\nwritten to {OUTPUT}")


if __name__ == "__main__":
    main()
