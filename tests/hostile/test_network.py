"""Network policy: metadata and link-local addresses are never fetched, whatever is allowed, and
the fetcher connects to the address it checked, not to a second DNS answer (rebinding)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

import index as ix
from index._fetch import check_url
from tests.site import Site


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


def policy() -> ix.FetchPolicy:
    return ix.FetchPolicy(read_timeout=2, connect_timeout=2, deadline=5, retries=0, backoff=0.01)


@pytest.mark.parametrize(
    "address", ["169.254.169.254", "fe80::1", "100.100.100.200", "fd00:ec2::254", "::ffff:169.254.169.254"]
)
def test_metadata_and_link_local_addresses_are_refused_even_when_private_ones_are_allowed(address: str) -> None:
    with pytest.raises(ix.FetchError, match="never fetches") as exc:
        check_url("http://metadata.example/latest/", allow_private=True, resolver=lambda h, p: [address])
    assert exc.value.reason == "private_address"


@pytest.mark.parametrize("address", ["::127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::", "::ffff:0:7f00:1",
                                     "64:ff9b:1::a00:5", "fec0::1", "::ffff:10.0.0.5"])  # fmt: skip
def test_ipv6_forms_of_private_addresses_are_refused_as_what_they_embed(address: str) -> None:
    with pytest.raises(ix.FetchError, match="non-public address") as exc:
        check_url("http://sneaky.example/", allow_private=False, resolver=lambda h, p: [address])
    assert exc.value.reason == "private_address"


@pytest.mark.parametrize("address", ["::169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::",
                                     "::ffff:0:a9fe:a9fe", "64:ff9b::6464:64c8"])  # fmt: skip
def test_ipv6_forms_of_the_metadata_service_are_refused_even_with_private_addresses_allowed(address: str) -> None:
    with pytest.raises(ix.FetchError, match="never fetches"):
        check_url("http://sneaky.example/", allow_private=True, resolver=lambda h, p: [address])


def test_public_ipv6_addresses_pass() -> None:
    assert check_url("http://news.example/", allow_private=False, resolver=lambda h, p: ["2a00:1450:4001:80b::200e"])
    assert check_url("http://news.example/", allow_private=False, resolver=lambda h, p: ["64:ff9b::808:808"])


def test_a_redirect_to_the_metadata_service_is_refused_with_private_addresses_allowed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})

    fetcher = ix.Fetcher(policy(), client=httpx.Client(transport=httpx.MockTransport(handler)),
                         resolver=lambda h, p: ["10.0.0.5"])  # fmt: skip
    with pytest.raises(ix.FetchError, match=r"link-local address 169\.254\.169\.254"):
        fetcher.get("http://intranet.example/page", kind="html", allow_private=True, robots=False)


def test_the_connection_goes_to_the_checked_address_not_a_fresh_lookup(site: Site) -> None:
    site.article("/news/0", "Report", ["North Korean troops arrived in Kursk region on Tuesday."])
    port = site.server.server_address[1]
    # Tests cannot resolve rebind.example (loopback only): the page arrives only if the
    # connection uses the address the check approved.
    with ix.Fetcher(policy(), resolver=lambda h, p: ["127.0.0.1"]) as fetcher:
        page = fetcher.get(f"http://rebind.example:{port}/news/0", kind="html", allow_private=True, robots=False)
    assert b"North Korean troops" in page.body
    assert site.hits[-1].headers.get("Host") == f"rebind.example:{port}"  # the name still goes in the request
    # approved 127.0.0.2 (nothing listens there): the connection fails rather than go elsewhere
    with ix.Fetcher(policy(), resolver=lambda h, p: ["127.0.0.2"]) as fetcher, pytest.raises(ix.FetchError):
        fetcher.get(f"http://rebind.example:{port}/news/0", kind="html", allow_private=True, robots=False)
    assert len(site.requests_to("/news/0")) == 1
