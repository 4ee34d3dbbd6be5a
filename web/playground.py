"""GraphiQL served from Inkwell itself: strawberry's page with its CDN files swapped for ours."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser

from strawberry.http.ides import get_graphql_ide_html

from web.assets import PLAYGROUND

EXAMPLE_QUERY = re.compile(r"const EXAMPLE_QUERY = `[^`]*`;")
# strawberry's page fills the Headers pane from the URL's `headers` parameter, and
# GraphiQL persists that pane (shouldPersistHeaders): a link to the playground could put
# its sender's Authorization in place of the developer's, who would then write as the
# sender. The page never writes headers into its URL itself (only the query and the
# variables), so nothing is lost: the pane starts from what the developer saved.
HEADERS_FROM_URL = "const [headers, setHeaders] = React.useState(parameters.headers);"
HEADERS_SAVED = (
    "// Never from the URL: a link could swap in its own Authorization (web/playground.py).\n"
    "        const [headers, setHeaders] = React.useState(undefined);"
)
# strawberry's page decodes every parameter of its URL with decodeURIComponent, which
# throws on a malformed escape: a link carrying `?utm_source=news%letter` or `q=100%`
# left the page at "Loading..." (URIError). A malformed one is kept as it is.
PARAMETERS_FROM_URL = """          parameters[decodeURIComponent(entry.slice(0, eq))] =
            decodeURIComponent(entry.slice(eq + 1));"""
PARAMETERS_READ_SAFELY = """          const decode = (text) => {
            try {
              return decodeURIComponent(text);
            } catch (_) {
              return text; // a malformed escape (web/playground.py)
            }
          };
          parameters[decode(entry.slice(0, eq))] = decode(entry.slice(eq + 1));"""

FLOW = """\
# Inkwell playground: write, then read.
# Run one operation at a time: put the cursor in it and
# press Ctrl-Enter, or pick it from the run button's list.
#
# 1. RegisterUser answers with a token. Open the Headers
#    pane below and paste, with your token:
#      {"Authorization": "Bearer <token>"}
#    Mutations need it; reading published posts does not.
#    The pane is kept in this browser: a request answered
#    401 UNAUTHENTICATED carries a token this server no
#    longer takes (expired, or from an old data directory).
#    Empty the pane, register again, and re-fetch the schema
#    (the circling arrows, bottom left).
# 2. CreatePost answers with the draft's id: paste it
#    into PublishPost in place of PASTE-THE-POST-ID.
# 3. PublishPost makes the post public; RecentPosts
#    lists it once the read models have it.
#
# The live page at / shows the same posts as they change.

mutation RegisterUser {
  registerUser(input: {name: "Ada"}) {
    token
    user { id name }
  }
}

mutation CreatePost {
  createPost(input: {
    title: "Hello CQRS"
    content: "Two models, one log."
    tags: ["cqrs"]
  }) {
    position
    post { id status version }
  }
}

mutation PublishPost {
  publishPost(input: {postId: "PASTE-THE-POST-ID"}) {
    position
    post { id status publishedAt }
  }
}

query RecentPosts {
  recentPosts(first: 5) {
    edges {
      node {
        id title likeCount commentCount publishedAt
        author { name }
      }
    }
  }
}
"""

SUBSCRIPTION = """
# 4. Feed streams each post as it is published, and each
#    later change to it: start it, then publish, like or
#    comment in another tab. Subscriptions send the Headers
#    pane as their connection_init payload.
subscription Feed {
  feed { id title likeCount commentCount }
}
"""


# GraphiQL runs only files served from here and talks only to its own origin; no other
# site may frame it (clickjacking a signed-in developer's mutations). The inline script
# and style blocks of strawberry's page are allowed by hash, computed when the page is built.
PLAYGROUND_POLICY = (
    "default-src 'none'",
    "script-src 'self' {scripts}",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
)


def playground_headers(html: str) -> dict[str, str]:
    """The GraphiQL page's Content-Security-Policy, pinning its inline scripts by hash."""
    scripts = " ".join(f"'sha256-{digest}'" for digest in _inline_script_hashes(html))
    return {
        "content-security-policy": "; ".join(PLAYGROUND_POLICY).format(scripts=scripts),
        "x-content-type-options": "nosniff",
        "cache-control": "no-cache",
    }


def _inline_script_hashes(html: str) -> list[str]:
    hashes: list[str] = []

    class Collector(HTMLParser):
        inline = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.inline = tag == "script" and "src" not in dict(attrs)

        def handle_endtag(self, tag: str) -> None:
            self.inline = False

        def handle_data(self, data: str) -> None:
            if self.inline:
                digest = hashlib.sha256(data.encode()).digest()
                hashes.append(base64.b64encode(digest).decode())

    collector = Collector()
    collector.feed(html)
    collector.close()
    return hashes


class PlaygroundTemplateChanged(RuntimeError):
    """strawberry's GraphiQL page no longer looks the way this module rewrites it."""


def playground_html(*, subscriptions: bool) -> str:
    """strawberry's GraphiQL page, loading only Inkwell's vendored files and opening on a
    tab that walks through the write-then-read flow. Built once, when the app is built."""
    html = get_graphql_ide_html("graphiql")
    for package in PLAYGROUND:
        for file in package.files:
            cdn = package.cdn_url(file)
            if html.count(f'"{cdn}"') != 1:
                raise PlaygroundTemplateChanged(
                    f"strawberry's GraphiQL page no longer loads {cdn}: update web/assets.py "
                    "to what it loads now and run `python -m web.vendor`"
                )
            html = html.replace(f'"{cdn}"', f'"{package.url(file)}"')
    html = _with_example(html, FLOW + (SUBSCRIPTION if subscriptions else ""))
    if html.count(HEADERS_FROM_URL) != 1:
        raise PlaygroundTemplateChanged(
            "strawberry's GraphiQL page no longer reads its headers from the URL as "
            "web/playground.py expects: check that a link cannot set them"
        )
    html = html.replace(HEADERS_FROM_URL, HEADERS_SAVED)
    if html.count(PARAMETERS_FROM_URL) != 1:
        raise PlaygroundTemplateChanged(
            "strawberry's GraphiQL page no longer reads its URL's parameters as "
            "web/playground.py expects: check that a malformed one cannot stop it"
        )
    html = html.replace(PARAMETERS_FROM_URL, PARAMETERS_READ_SAFELY)
    html = html.replace("<title>Strawberry GraphiQL</title>", "<title>Inkwell GraphiQL</title>")
    if remote := [url for url in referenced_urls(html) if not _is_local(url)]:
        raise PlaygroundTemplateChanged(f"strawberry's GraphiQL page loads more: {remote}")
    return html


def _with_example(html: str, query: str) -> str:
    if len(EXAMPLE_QUERY.findall(html)) != 1:
        raise PlaygroundTemplateChanged("strawberry's GraphiQL page has no EXAMPLE_QUERY")
    # A JSON string is a JavaScript string; escaping "<" keeps "</script>" out of the page.
    literal = json.dumps(query).replace("<", "\\u003c")
    return EXAMPLE_QUERY.sub(lambda _: f"const EXAMPLE_QUERY = {literal};", html)


def _is_local(url: str) -> bool:
    return url.startswith("data:") or (url.startswith("/") and not url.startswith("//"))


def referenced_urls(html: str) -> list[str]:
    """Every src and href in the page."""
    return [url for _, url, _ in _tags(html)]


def pinned_hashes(html: str) -> dict[str, str]:
    """The SRI value the page pins for each file it loads: {url: "sha384-..."}."""
    return {url: integrity for _, url, integrity in _tags(html) if integrity}


def _tags(html: str) -> list[tuple[str, str, str | None]]:
    found: list[tuple[str, str, str | None]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            values = dict(attrs)
            for name in ("src", "href"):
                if url := values.get(name):
                    found.append((tag, url, values.get("integrity")))

    collector = Collector()
    collector.feed(html)
    collector.close()
    return found
