"""The SSRF address policy: only global unicast addresses, wrapped or not, are public."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.feeds.guard import BlockedAddressError, check_address, is_public_address


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.0.0.2",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # CGNAT: is_private is False, is_global is False
        "100.100.100.200",  # Alibaba metadata, inside CGNAT
        "0.0.0.0",
        "224.0.0.1",
        "239.1.2.3",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fd00:ec2::254",  # AWS IPv6 metadata (ULA)
        "ff02::1",
        "ff0e::1",  # global-scope multicast is still multicast
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::7f00:1",  # NAT64 wrapping loopback: is_global says True
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::",  # 6to4 wrapping loopback: is_global says True
        "2002:a00:1::1",
        "::7f00:1",  # IPv4-compatible loopback
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))
    with pytest.raises(BlockedAddressError):
        check_address(address, is_public_address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "64:ff9b::808:808"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))
    check_address(address, is_public_address)


def test_a_hostname_is_never_a_connect_address() -> None:
    with pytest.raises(BlockedAddressError):
        check_address("localhost", lambda _: True)


@given(st.ip_addresses(v=4))
def test_ipv4_policy_matches_is_global_and_its_wrappings_agree(address: ipaddress.IPv4Address) -> None:
    public = is_public_address(address)
    assert public == (address.is_global and not address.is_multicast)
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    nat64 = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(address))
    assert is_public_address(mapped) == public
    assert is_public_address(nat64) == public
