"""Where a webhook may be sent (no database here: the web side checks a URL when it is
given, the worker's delivery agent again when it sends, on the address it connects to).

A target is an http or https URL with a host and no credentials, whose host resolves
only to public addresses. Refused: loopback, private (RFC 1918, unique local), shared
(100.64.0.0/10), link-local, reserved, multicast, unspecified and every other address
that is not globally routable, IPv4 mapped into IPv6 judged as IPv4, and the cloud
metadata services (169.254.169.254, fd00:ec2::254) always. With allow_private
(PARLEY_WEBHOOKS_ALLOW_PRIVATE, for a receiver on one's own network or in tests)
loopback, private, shared and link-local addresses are allowed; metadata, multicast,
unspecified and reserved ones are still refused.

A host whose names resolve to several addresses is refused if any of them is: the
connection may go to any.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

SCHEMES = {"http": 80, "https": 443}
METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedTarget(ValueError):
    """The URL may not be a webhook's target; the message says why."""


class Unresolvable(RefusedTarget):
    """The host does not resolve (now): at delivery time, worth trying again."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written, lower case, without brackets
    port: int
    path: str  # path and query, at least "/"
    addresses: tuple[str, ...]  # what the host resolved to, each allowed

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == SCHEMES[self.scheme] else f"{host}:{self.port}"

    def url_at(self, address: str) -> str:
        """The URL with the host replaced by one of its addresses: connecting there,
        not to whatever the name resolves to by then."""
        host = f"[{address}]" if ":" in address else address
        return f"{self.scheme}://{host}:{self.port}{self.path}"


def parse(url: str):
    """The URL's parts, if it has the shape of a target; RefusedTarget otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RefusedTarget(f"Not a valid URL: {exc}.") from None
    if parts.scheme not in SCHEMES:
        raise RefusedTarget("Must be an http or https URL.")
    if not parts.hostname:
        raise RefusedTarget("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise RefusedTarget("The URL must not hold credentials.")
    return parts, port or SCHEMES[parts.scheme]


def refusal(address: Address, allow_private: bool) -> str | None:
    """Why a connection to `address` is refused, or None if it is allowed."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA:
        return "a cloud metadata address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_global:
        return None
    if address.is_loopback:
        kind = "a loopback address"
    elif address.is_link_local:
        kind = "a link-local address"
    elif address.is_reserved:
        return "a reserved address"
    elif address.is_private or address in SHARED:
        kind = "a private address"
    else:
        return "a reserved address"
    return None if allow_private else kind


def resolve(host: str, port: int) -> list[Address]:
    """Every address the host resolves to (an address literal is itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolvable(f"Its host {host!r} does not resolve: {exc}.") from None
    # The scope of a link-local IPv6 address ("fe80::1%eth0") is not part of it.
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%", 1)[0])
                              for info in found))


def check(url: str, allow_private: bool) -> Target:
    """The URL as a target, its host resolved and every address allowed; RefusedTarget
    (Unresolvable when the name does not resolve) otherwise."""
    parts, port = parse(url)
    host = parts.hostname.lower()
    addresses = resolve(host, port)
    if not addresses:
        raise Unresolvable(f"Its host {host!r} resolves to no address.")
    for address in addresses:
        why = refusal(address, allow_private)
        if why is not None:
            said = (f"is {why}" if str(address) == host
                    else f"resolves to {why} ({address})")
            raise RefusedTarget(f"Its host {host!r} {said}; webhooks are sent to public "
                                "addresses only.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, path, tuple(str(a) for a in addresses))
