"""Where webhooks may go (app/services/webhook_targets.py): http(s) URLs whose host
resolves to public addresses only; with allow_private, one's own network too, never the
metadata services."""

import socket

import pytest

from app.services.webhook_targets import RefusedTarget, Unresolvable, check

REFUSED = {
    "http://127.0.0.1/hook": "a loopback address",
    "http://127.1.2.3:8080/hook": "a loopback address",
    "http://[::1]/hook": "a loopback address",
    "http://[::ffff:127.0.0.1]/hook": "a loopback address",
    "http://10.1.2.3/hook": "a private address",
    "http://172.16.0.1/hook": "a private address",
    "http://192.168.1.10/hook": "a private address",
    "http://[fc00::1]/hook": "a private address",
    "http://100.64.0.1/hook": "a private address",
    "http://169.254.10.10/hook": "a link-local address",
    "http://[fe80::1]/hook": "a link-local address",
    "http://169.254.169.254/latest/meta-data/": "a cloud metadata address",
    "http://[fd00:ec2::254]/latest/meta-data/": "a cloud metadata address",
    "http://224.0.0.1/hook": "a multicast address",
    "http://[ff02::1]/hook": "a multicast address",
    "http://0.0.0.0/hook": "an unspecified address",
    "http://240.0.0.1/hook": "a reserved address",
}
ALWAYS_REFUSED = ("http://169.254.169.254/latest/meta-data/",
                  "http://[fd00:ec2::254]/latest/meta-data/", "http://224.0.0.1/hook",
                  "http://0.0.0.0/hook", "http://240.0.0.1/hook")


@pytest.fixture
def resolves_to(monkeypatch):
    """Make host names resolve to the given addresses."""

    def pretend(addresses: list[str]):
        def getaddrinfo(host, port, *args, **kwargs):
            return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6,
                     "", (a, port)) for a in addresses]
        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    return pretend


@pytest.mark.parametrize("url", sorted(REFUSED))
def test_addresses_that_are_not_public_are_refused(url):
    with pytest.raises(RefusedTarget, match=REFUSED[url]):
        check(url, allow_private=False)


@pytest.mark.parametrize("url", ["https://93.184.215.14/hooks?x=1",
                                 "http://[2606:4700:4700::1111]:8443/"])
def test_public_addresses_are_allowed(url):
    assert check(url, allow_private=False).addresses


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000/hook", "http://[::1]/hook",
                                 "http://10.1.2.3/hook", "http://192.168.1.10/hook",
                                 "http://169.254.10.10/hook", "http://100.64.0.1/hook"])
def test_allow_private_allows_ones_own_network(url):
    assert check(url, allow_private=True).addresses


@pytest.mark.parametrize("url", ALWAYS_REFUSED)
def test_allow_private_still_refuses_metadata_multicast_and_reserved(url):
    with pytest.raises(RefusedTarget, match=REFUSED[url]):
        check(url, allow_private=True)


def test_a_name_resolving_to_a_metadata_address_is_refused(resolves_to):
    resolves_to(["169.254.169.254"])

    with pytest.raises(RefusedTarget, match=r"'hooks\.example\.com' resolves to a cloud "
                                            r"metadata address \(169\.254\.169\.254\)"):
        check("https://hooks.example.com/in", allow_private=False)


def test_a_name_with_any_private_address_among_public_ones_is_refused(resolves_to):
    resolves_to(["93.184.215.14", "10.0.0.7"])

    with pytest.raises(RefusedTarget, match="a private address"):
        check("https://hooks.example.com/in", allow_private=False)


def test_a_name_resolving_to_public_addresses_gives_them(resolves_to):
    resolves_to(["93.184.215.14", "2606:4700:4700::1111"])

    target = check("https://Hooks.Example.com/in?a=1", allow_private=False)

    assert target.addresses == ("93.184.215.14", "2606:4700:4700::1111")
    assert target.url_at(target.addresses[1]) == "https://[2606:4700:4700::1111]:443/in?a=1"
    assert target.host_header == "hooks.example.com"


def test_a_name_that_does_not_resolve_is_unresolvable(monkeypatch):
    def getaddrinfo(*_args, **_kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    with pytest.raises(Unresolvable, match="does not resolve"):
        check("https://nowhere.invalid/hook", allow_private=False)


@pytest.mark.parametrize("url, reason", [
    ("ftp://93.184.215.14/hook", "http or https"),
    ("file:///etc/passwd", "http or https"),
    ("93.184.215.14/hook", "http or https"),
    ("http:///hook", "no host"),
    ("https://user:secret@93.184.215.14/hook", "credentials"),
    ("http://93.184.215.14:99999/hook", "Not a valid URL"),
])
def test_only_http_urls_with_a_host_and_no_credentials(url, reason):
    with pytest.raises(RefusedTarget, match=reason):
        check(url, allow_private=True)


def test_the_host_header_keeps_a_port_that_is_not_the_schemes():
    assert check("http://127.0.0.1:8080/x", allow_private=True).host_header == "127.0.0.1:8080"
    assert check("https://[::1]/x", allow_private=True).host_header == "[::1]"
