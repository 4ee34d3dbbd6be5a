"""What each per-address limit counts a client under (protection/addresses.py)."""

from __future__ import annotations

import pytest

from protection.addresses import counted_as


@pytest.mark.parametrize(
    ("address", "counted"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:0:1::1", "2001:db8:0:1::/64"),
        ("2001:db8:0:1:abcd:ef01:2345:6789", "2001:db8:0:1::/64"),
        ("2001:DB8:0:1::FFFF", "2001:db8:0:1::/64"),
        ("::1", "::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),  # an IPv4 client of a dual-stack socket
        ("fe80::1%eth0", "fe80::/64"),
        ("unknown", "unknown"),
        ("not:an:address", "not:an:address"),
    ],
)
def test_an_ipv6_address_is_counted_by_its_64_and_any_other_as_it_is(
    address: str, counted: str
) -> None:
    assert counted_as(address) == counted
