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
