"""Whether an avatar URL's authority names a server every URL parser reads alike.

Stored as typed, `http://[::1/a.png` or a port of 99999 made browsers' `new URL()` and
Python's `urlsplit` throw on one user's profile; `https://trusted.example@evil.example/`
shows one host and fetches another; `http://0x7f000001/` and `http://1.2.3.0x4/` read as
a name and are fetched from 127.0.0.1 and 1.2.3.4 (WHATWG reads a host whose last label
is a number, decimal or hex, as an IPv4 address); `http://xn--a/` is punycode for a
control character (outside probes). So the authority is read here by its grammar, not by
one parser's leniency:

- a DNS name of RFC 1123 labels (underscores too, which some hosting names hold and
  browsers take), its `xn--` labels punycode for labels IDNA 2008 allows and UTS 46's
  mapping leaves as they are (`xn--dca`, an upper-case E with an acute accent, `xn--pba`,
  a superscript two, Hebrew beside Latin against the bidi rule: `new URL()` threw on 2,659
  of 609,441 one-character labels that a hand-written check took, a re-check probe
  found); a last label that is a number makes the whole host a dotted-decimal IPv4
  address;
- or an IPv6 address in brackets, without a zone;
- then at most a port of 1-65535; no user name or password.
"""

from __future__ import annotations

import ipaddress
import re

import idna

AUTHORITY = re.compile(r"(?P<host>\[[^\]]*\]|[^:@\[\]]*)(?::(?P<port>[0-9]*))?")
LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
# What WHATWG's host parser takes for a number in a host's last label.
NUMBER = re.compile(r"[0-9]+|0x[0-9a-f]*")
HOST_MAX = 253


def names_a_server(url: str) -> bool:
    """`url` is `scheme://` and RFC 3986 characters (domain/rules.py checked that)."""
    authority = re.split(r"[/?#]", url.split("://", 1)[1], maxsplit=1)[0]
    parts = AUTHORITY.fullmatch(authority)
    if parts is None:
        return False
    port = parts["port"]
    if port and not 1 <= int(port) <= 65_535:
        return False
    host = parts["host"].lower()
    if host.startswith("["):
        return _ipv6(host[1:-1])
    return _named(host)


def _ipv6(address: str) -> bool:
    if "%" in address:  # a zone: `ipaddress` takes one, browsers do not
        return False
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return False
    return True


def _named(host: str) -> bool:
    labels = host.removesuffix(".").split(".")
    if not host or len(host) > HOST_MAX or not all(LABEL.fullmatch(label) for label in labels):
        return False
    if NUMBER.fullmatch(labels[-1]):
        try:
            ipaddress.IPv4Address(".".join(labels))  # four decimal parts, no leading zeros
        except ValueError:
            return False
    return all(_punycode(label[4:]) for label in labels if label.startswith("xn--"))


def _punycode(encoded: str) -> bool:
    """Punycode for a label IDNA 2008 allows (idna's check: code points, joiners, bidi)
    and that UTS 46's mapping, which browsers apply, leaves as it is."""
    try:
        decoded = encoded.encode("ascii").decode("punycode")
        idna.check_label(decoded)
    except (UnicodeError, idna.IDNAError):
        return False
    return (
        idna.uts46_remap(decoded, std3_rules=False, transitional=False) == decoded
        and decoded.encode("punycode").decode("ascii") == encoded
    )
