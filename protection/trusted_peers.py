"""The peers named by INKWELL_TRUSTED_PROXIES, whose connections carry many clients: the
limits counted per connection's peer address leave them out."""

from __future__ import annotations

import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedPeers:
    def __init__(self, listed: str | None) -> None:
        self._everyone = (listed or "").strip() == "*"
        self._networks = _networks(listed or "")

    def __contains__(self, address: str) -> bool:
        if self._everyone:
            return True
        if not self._networks:
            return False
        peer = ipaddress.ip_address(address)
        return any(peer in network for network in self._networks)


VARIABLE = "INKWELL_TRUSTED_PROXIES"


def check_trusted_proxies(listed: str | None) -> str | None:
    """Refuses (ValueError, naming the variable) an entry that is neither an address nor a
    network: both readers of the list (uvicorn's X-Forwarded-For and _networks here) passed
    over such an entry without a word, so a typo made every client behind the proxy one
    address, limited as one. uvicorn also passes over a network with host bits set
    (10.0.0.1/24), which _networks reads as 10.0.0.0/24: refused too. `*` (trust every
    peer) is read as uvicorn reads it, alone and without spaces."""
    listed = listed.strip() if listed else None
    if listed is None or listed == "*":
        return listed
    for entry in (item.strip() for item in listed.split(",")):
        try:
            if entry:
                ipaddress.ip_network(entry)
        except ValueError:
            raise ValueError(
                f"{VARIABLE}: {entry!r} is not an IP address or network; list the proxies' "
                "addresses and networks (10.0.0.5, 10.0.0.0/8, fd00::/8), or * alone"
            ) from None
    return listed


def _networks(listed: str) -> list[Network]:
    """The addresses and networks of a comma-separated list, as uvicorn reads its
    forwarded_allow_ips; what is neither (a Unix socket's path) cannot be a peer here."""
    found = []
    for entry in (item.strip() for item in listed.split(",")):
        try:
            found.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue
    return found
