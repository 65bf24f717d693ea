"""Who is asking: the client address the rate limits and the login throttle key on.

Without ``TY_TRUSTED_PROXIES`` the address is the TCP peer's. Behind a reverse proxy every request would then
come from the proxy, and one client's failures would slow everyone down; so when the peer is one of the
trusted proxies (addresses or networks, comma-separated: ``127.0.0.1, 10.0.0.0/8``), the client is taken from
``X-Forwarded-For``: its rightmost address that is not itself a trusted proxy (what the nearest trusted proxy
saw; entries further left are whatever the client sent and are never believed). A header that does not parse
falls back to the peer.

An IPv6 client is keyed on its /64 network: one host gets a whole /64 from its provider and can change its
address within it at will.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from fastapi import Request

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_FORWARDED_ENTRIES = 32


@lru_cache(maxsize=16)
def parse_trusted_proxies(spec: str) -> tuple[IPNetwork, ...]:
    """The networks of ``TY_TRUSTED_PROXIES``; ValueError names an entry that is not an address or network."""
    networks = []
    for part in (p.strip() for p in spec.split(",")):
        if part:
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"TY_TRUSTED_PROXIES: {part!r} is not an IP address or network") from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # 192.0.2.1:443
        text = text.split(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies: tuple[IPNetwork, ...]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def client_key(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """What limits key on: an IPv4 address as it is, an IPv6 address as its /64."""
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def resolve_client(peer: str | None, forwarded_for: list[str], proxies: tuple[IPNetwork, ...]) -> str:
    """The client key for a request from ``peer`` with these ``X-Forwarded-For`` headers (see the module)."""
    peer_address = _address(peer) if peer else None
    if peer_address is None:
        return peer or "unknown"
    if not proxies or not _trusted(peer_address, proxies):
        return client_key(peer_address)
    hops = [hop for header in forwarded_for for hop in header.split(",")][-MAX_FORWARDED_ENTRIES:]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break  # a hop that does not parse: nothing left of it is believed
        if not _trusted(address, proxies):
            return client_key(address)
    return client_key(peer_address)


def client_address(request: Request) -> str:
    settings = request.app.state.settings
    peer = request.client.host if request.client else None
    return resolve_client(peer, request.headers.getlist("x-forwarded-for"),
                          parse_trusted_proxies(settings.trusted_proxies))
