"""Reading served pages the way a browser would: what they load, and from where."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlsplit

# Any absolute URL written in a page, script or stylesheet.
ABSOLUTE_URL = re.compile(r"""(?:https?|wss?)://[^\s"'`<>()\\/]+""")


def hosts_named(text: str) -> set[str]:
    """The host of every absolute URL written anywhere in `text`."""
    return {url.split("://", 1)[1].lower() for url in ABSOLUTE_URL.findall(text)}


@dataclass(frozen=True)
class Reference:
    tag: str
    attribute: str
    url: str
    integrity: str | None


def references(html: str) -> list[Reference]:
    """Every src and href in the page, with the SRI value pinned next to it."""
    found: list[Reference] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            values = dict(attrs)
            for attribute in ("src", "href"):
                if url := values.get(attribute):
                    found.append(Reference(tag, attribute, url.strip(), values.get("integrity")))

    collector = Collector()
    collector.feed(html)
    collector.close()
    return found


def is_same_origin_path(url: str) -> bool:
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc and url.startswith("/")


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()
