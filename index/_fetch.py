"""Polite, defensive HTTP fetching for the crawler, on an injected ``httpx.Client``.

Polite: a User-Agent naming the tool and a contact, robots.txt (RFC 9309) per host, a delay
between requests to one host (robots' Crawl-delay if longer), conditional requests.
Defensive: only http(s) to public addresses unless a source allows private ones (a feed must
not steer the crawler at the intranet), redirects followed by hand so every hop is checked,
bodies streamed and cut off at a size cap, a deadline per request. Transient failures
(connection errors, timeouts, 5xx, 429) are retried with exponential backoff and jitter,
honouring Retry-After; other 4xx are final.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpcore
import httpx

from tracer import TracerError

log = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")


class FetchError(TracerError):
    """One URL could not be fetched; ``reason`` is a short stable key for summaries."""

    def __init__(
        self, url: str, reason: str, detail: str, *, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(f"{url}: {detail}")
        self.url = url
        self.reason = reason
        self.detail = detail
        self.retry_after = retry_after
        self.status = status


class _Transient(FetchError):
    """Worth another attempt (the caller decides how many)."""


class _Overdue(FetchError):
    """The whole exchange outlasted the deadline: trying again would cost the same again."""


@dataclass(frozen=True)
class FetchPolicy:
    user_agent: str = "tracer/0.2 (+https://github.com/tracer-news/tracer; source tracing for newsrooms)"
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    deadline: float = 60.0
    """Seconds one exchange may take in all, headers included: a server dripping bytes cannot hold
    a worker forever. Such a timeout is not retried, and a host that runs into it twice is given
    up for the rest of the run."""
    overdue_limit: int = 2
    max_bytes: int = 10_000_000
    max_redirects: int = 5
    retries: int = 3
    backoff: float = 1.0
    max_wait: float = 120.0
    """Longest backoff or Retry-After accepted; a longer one fails the URL until the next run."""
    concurrency: int = 4


@dataclass(frozen=True)
class Page:
    url: str
    """The final URL, after redirects."""
    status: int
    """200, or 304 when a conditional request found the page unchanged."""
    body: bytes = b""
    content_type: str = ""
    charset: str | None = None
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class _Host:
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_at: float = 0.0
    robots: RobotFileParser | None = None
    robots_loaded: bool = False
    crawl_delay: float = 0.0
    overdue: int = 0
    """Exchanges of this run that ran into the deadline."""


Resolver = Callable[[str, int], list[str]]


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise _Transient(host, "dns", f"cannot resolve host {host!r} ({exc.strerror})") from exc
    return [str(info[4][0]) for info in infos]


def check_url(url: str, *, allow_private: bool, resolver: Resolver = _resolve) -> list[str]:
    """Refuse non-http(s) URLs, hosts resolving to link-local (metadata) addresses, and, unless
    allowed, to non-public ones. Returns the addresses checked: the fetcher connects to these,
    not to whatever a second lookup would say (DNS rebinding)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError(
            url, "bad_url", f"only http and https URLs are fetched, not {parts.scheme or 'a relative URL'!r}"
        )
    host = parts.hostname
    if not host:
        raise FetchError(url, "bad_url", "the URL has no host")
    try:
        addresses = [host] if _is_ip(host) else resolver(host, parts.port or (443 if parts.scheme == "https" else 80))
    except FetchError as exc:
        raise type(exc)(url, exc.reason, exc.detail) from exc
    for address in addresses:
        ip = embedded_ipv4(ipaddress.ip_address(address.split("%", 1)[0]))
        if ip.is_link_local or ip in _METADATA:  # cloud metadata endpoints: never, whatever is allowed
            raise FetchError(url, "private_address", f"{host} resolves to the link-local address {address}, "
                             "which tracer never fetches (cloud metadata services live there)")  # fmt: skip
        if not allow_private and (not ip.is_global or getattr(ip, "is_site_local", False)):
            raise FetchError(
                url,
                "private_address",
                f"{host} resolves to the non-public address {address}; if that is intended, allow private "
                "addresses (allow_private = true for a crawled source, --allow-private-urls for trace serve)",
            )
    return addresses


_METADATA = {ipaddress.ip_address(a) for a in ("100.100.100.200", "fd00:ec2::254")}
"""Metadata services outside the link-local ranges (Alibaba Cloud, AWS over IPv6)."""

_EMBEDDING = [
    ipaddress.ip_network("::/96"),  # IPv4-compatible (deprecated): ::127.0.0.1
    ipaddress.ip_network("::ffff:0:0:0/96"),  # IPv4-translated (SIIT)
    ipaddress.ip_network("64:ff9b::/96"),  # NAT64, well-known prefix
    ipaddress.ip_network("64:ff9b:1::/48"),  # NAT64, local-use prefix
]
"""IPv6 ranges whose last 32 bits are an IPv4 address that a translator or a stack may reach."""


def embedded_ipv4(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, translated, NAT64, 6to4),
    so that it is judged as that address; other addresses as they are."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    for network in _EMBEDDING:
        if ip in network and int(ip) & 0xFFFFFFFF and ip != ipaddress.IPv6Address("::1"):
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def _media_type(content_type: str) -> tuple[str, str | None]:
    media, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip("\"'")
    return media.strip().lower(), charset


class _Watchdog:
    """Cuts one exchange off at a wall-clock deadline, headers included: httpx's read timeout
    restarts with every byte, so a server sending a byte a second would never trip it. The
    socket is learnt from httpx's connection trace and shut down when time is up; the blocked
    read then fails at once."""

    def __init__(self, deadline: float) -> None:
        self.fired = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(deadline, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def trace(self, event: str, info: dict[str, object]) -> None:
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None  # type: ignore[attr-defined]
            if sock is not None:
                with self._lock:
                    self._sockets.append(sock)
                if self.fired.is_set():
                    self._fire()

    def _fire(self) -> None:
        self.fired.set()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


class _Pins:
    """Host and port -> the addresses ``check_url`` approved for them, shared with the connection layer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._addresses: dict[tuple[str, int], list[str]] = {}

    def set(self, host: str, port: int, addresses: list[str]) -> None:
        with self._lock:
            self._addresses[(host.lower().strip("[]"), port)] = list(addresses)

    def get(self, host: str, port: int) -> list[str]:
        with self._lock:
            return self._addresses.get((host.lower().strip("[]"), port), [])


class _PinnedBackend(httpcore.SyncBackend):
    """Connects to an address checked for the host, never to a fresh DNS answer: a name that
    resolved to a public address for the check cannot resolve to 127.0.0.1 for the connection.
    TLS still verifies the host name (httpcore takes it from the request, not from here)."""

    def __init__(self, pins: _Pins) -> None:
        self._pins = pins

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:  # fmt: skip
        addresses = self._pins.get(host, port)
        if not addresses:
            raise httpcore.ConnectError(f"{host}:{port} was not checked before connecting")
        error: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address.split("%", 1)[0], port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
        raise error or httpcore.ConnectError(f"cannot connect to {host}:{port}")


class Fetcher:
    """Thread-safe: the crawler fetches from several hosts at once, one request at a time per host."""

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        *,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        resolver: Resolver = _resolve,
    ) -> None:
        self.policy = policy or FetchPolicy()
        p = self.policy
        self._pins = _Pins()
        transport = httpx.HTTPTransport(limits=httpx.Limits(max_connections=max(p.concurrency, 1) * 2,
                                                            max_keepalive_connections=0))  # fmt: skip
        transport._pool._network_backend = _PinnedBackend(self._pins)  # httpx has no public seam for this
        self._client = client or httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(p.read_timeout, connect=p.connect_timeout),
            # (no keep-alive above: a fresh connection per request, so each exchange's socket is
            # known to its deadline watchdog)
            follow_redirects=False,  # every hop is checked by hand
        )
        self._owns_client = client is None
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._resolver = resolver
        self._hosts: dict[str, _Host] = {}
        self._hosts_lock = threading.Lock()

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public ------------------------------------------------------------------------

    def get(
        self,
        url: str,
        *,
        kind: str = "html",
        delay: float = 1.0,
        allow_private: bool = False,
        etag: str | None = None,
        last_modified: str | None = None,
        headers: dict[str, str] | None = None,
        robots: bool = True,
        budget: float | None = None,
    ) -> Page:
        """Fetch ``url`` (``kind`` "html" for articles, "feed" for feeds and sitemaps), retrying
        transient failures. ``budget``: seconds for the whole call, retries, waits and redirects
        included (a request's time limit); no wait is slept that would outlast it. Raises
        :class:`FetchError` with a ``reason`` key."""
        p = self.policy
        end = None if budget is None else self._clock() + budget
        for attempt in range(p.retries + 1):
            left = None if end is None else end - self._clock()
            if left is not None and left <= 0:
                raise FetchError(url, "timeout", f"no complete answer within the {budget:.1f} s budget")
            try:
                return self._follow(url, kind, delay, allow_private, etag, last_modified, headers=headers,
                                    check_robots=robots, deadline=None if left is None else min(p.deadline, left))  # fmt: skip
            except _Overdue as exc:
                raise FetchError(exc.url, exc.reason, exc.detail) from exc
            except _Transient as exc:
                if attempt == p.retries:
                    raise FetchError(
                        exc.url, exc.reason, f"{exc.detail} (gave up after {attempt + 1} attempts)"
                    ) from exc
                wait = exc.retry_after
                if wait is None:
                    wait = p.backoff * 2**attempt + self._rng.uniform(0, p.backoff)
                if wait > p.max_wait:
                    raise FetchError(
                        exc.url, "retry_after", f"server asks to wait {wait:.0f} s; will retry on the next run"
                    ) from exc
                if end is not None and self._clock() + wait >= end:
                    raise FetchError(exc.url, exc.reason, f"{exc.detail}; a retry in {wait:.1f} s would outlast "
                                     f"the {budget:.1f} s budget") from exc  # fmt: skip
                log.info("%s; retrying in %.1f s", exc, wait)
                self._sleep(wait)
        raise AssertionError("unreachable")

    def allowed(self, url: str, *, delay: float = 1.0, allow_private: bool = False) -> bool:
        """Whether robots.txt of the URL's host lets this user agent fetch it."""
        host = self._host(url)
        if not host.robots_loaded:
            with host.lock:  # one robots.txt fetch per host, even with several workers
                if not host.robots_loaded:
                    self._load_robots(url, host, delay, allow_private)
        return host.robots is None or host.robots.can_fetch(self.policy.user_agent, url)

    # -- internals -----------------------------------------------------------------------

    def _host(self, url: str) -> _Host:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc.lower()}"
        with self._hosts_lock:
            return self._hosts.setdefault(key, _Host())

    def _load_robots(self, url: str, host: _Host, delay: float, allow_private: bool) -> None:
        parts = urlsplit(url)
        robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
        parser = RobotFileParser(robots_url)
        try:
            page = self._follow(robots_url, "robots", delay, allow_private, None, None, locked=True)
        except FetchError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                parser = None  # RFC 9309: robots.txt unavailable (4xx) -> no restrictions
            else:
                # Unreachable (5xx, network): assume complete disallow for this run.
                log.warning("%s: robots.txt unreachable (%s); not crawling this host now", robots_url, exc.reason)
                parser.disallow_all = True
        else:
            text = page.body.decode("utf-8", errors="replace")
            parser.parse(text.splitlines())
            crawl_delay = parser.crawl_delay(self.policy.user_agent)
            host.crawl_delay = float(crawl_delay) if crawl_delay else 0.0
        host.robots = parser
        host.robots_loaded = True

    def _wait_turn(self, host: _Host, delay: float) -> None:
        """Called with ``host.lock`` held: requests to one host are spaced by its delay (the
        delay is set after each response, see ``_request``)."""
        wait = host.next_at - self._clock()
        if wait > 0:
            self._sleep(wait)

    def _follow(
        self,
        url: str,
        kind: str,
        delay: float,
        allow_private: bool,
        etag: str | None,
        last_modified: str | None,
        *,
        locked: bool = False,
        headers: dict[str, str] | None = None,
        check_robots: bool = True,
        deadline: float | None = None,
    ) -> Page:
        """Follow redirects by hand, each hop checked; ``deadline``: seconds for all the hops
        (default: the policy's per exchange)."""
        seen = {url}
        end = None if deadline is None else self._clock() + deadline
        current = url
        for _ in range(self.policy.max_redirects + 1):
            parts = urlsplit(current)
            checked = check_url(current, allow_private=allow_private, resolver=self._resolver)
            self._pins.set(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80), checked)
            if (
                check_robots
                and kind != "robots"
                and not self.allowed(current, delay=delay, allow_private=allow_private)
            ):
                raise FetchError(current, "robots", "disallowed by robots.txt")
            host = self._host(current)
            left = None if end is None else end - self._clock()
            if left is not None and left <= 0:
                raise _Overdue(url, "timeout", f"no complete answer within {deadline:.0f} s")
            if locked:
                page_or_next = self._request(current, kind, etag, last_modified, host, delay, headers, left)
            else:
                with host.lock:
                    page_or_next = self._request(current, kind, etag, last_modified, host, delay, headers, left)
            if isinstance(page_or_next, Page):
                return page_or_next
            current = page_or_next
            if current in seen:
                raise FetchError(url, "redirect_loop", f"redirect loop at {current}")
            seen.add(current)
        raise FetchError(url, "too_many_redirects", f"more than {self.policy.max_redirects} redirects")

    def _request(
        self,
        url: str,
        kind: str,
        etag: str | None,
        last_modified: str | None,
        host: _Host,
        delay: float,
        extra: dict[str, str] | None,
        deadline: float | None = None,
    ) -> Page | str:
        """One request; returns the page, or the next URL of a redirect. ``deadline``: seconds
        for this exchange, when less than the policy's."""
        p = self.policy
        deadline = p.deadline if deadline is None else min(p.deadline, deadline)
        self._wait_turn(host, delay)
        headers = {"User-Agent": p.user_agent, "Accept-Encoding": "gzip, deflate", **(extra or {})}
        headers["Accept"] = "text/html,application/xhtml+xml;q=0.9" if kind == "html" else "*/*"
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if host.overdue >= p.overdue_limit:
            raise FetchError(url, "timeout", f"host gave up for this run: {host.overdue} exchanges outlasted "
                             f"the {p.deadline:.0f} s deadline")  # fmt: skip
        started = self._clock()
        watchdog = _Watchdog(deadline)
        timeout = httpx.Timeout(min(p.read_timeout, deadline), connect=min(p.connect_timeout, deadline))
        try:
            with self._client.stream("GET", url, headers=headers, timeout=timeout,
                                     extensions={"trace": watchdog.trace}) as response:  # fmt: skip
                return self._read(url, kind, response, started, deadline)
        except _Overdue:
            host.overdue += 1
            raise
        except httpx.TransportError as exc:
            if watchdog.fired.is_set():
                host.overdue += 1
                raise _Overdue(url, "timeout", f"no complete response within {deadline:.0f} s") from exc
            if isinstance(exc, httpx.TimeoutException):
                raise _Transient(url, "timeout", f"timed out ({type(exc).__name__})") from exc
            raise _Transient(url, "network", f"network error ({type(exc).__name__}: {exc})") from exc
        except httpx.InvalidURL as exc:
            raise FetchError(url, "bad_url", str(exc)) from exc
        except httpx.DecodingError as exc:
            raise FetchError(url, "bad_encoding", f"cannot decode the response ({exc})") from exc
        except httpx.HTTPError as exc:  # anything else httpx raises: final for this URL, never fatal to a run
            raise FetchError(url, "http_error", f"{type(exc).__name__}: {exc}") from exc
        finally:
            watchdog.cancel()
            host.next_at = self._clock() + max(delay, host.crawl_delay)

    def _read(self, url: str, kind: str, response: httpx.Response, started: float, deadline: float) -> Page | str:
        p = self.policy
        status = response.status_code
        if status == 304:
            return Page(url=url, status=304, etag=response.headers.get("etag"),
                        last_modified=response.headers.get("last-modified"))  # fmt: skip
        if status in (301, 302, 303, 307, 308):
            location = response.headers.get("location")
            if not location:
                raise FetchError(url, "bad_redirect", f"HTTP {status} without a Location header")
            return urljoin(url, location)
        if status == 429 or status >= 500:
            raise _Transient(url, f"http_{status}", f"HTTP {status}",
                             retry_after=_retry_after(response.headers.get("retry-after"), time.time()))  # fmt: skip
        if status != 200:
            raise FetchError(url, f"http_{status}", f"HTTP {status}", status=status)
        media, charset = _media_type(response.headers.get("content-type", ""))
        if kind == "html" and media not in HTML_TYPES:
            raise FetchError(url, "not_html", f"content type {media or 'missing'!r} is not an HTML page")
        if kind == "feed" and media.startswith(("text/html", "image/", "video/", "audio/")):
            raise FetchError(url, "not_feed", f"content type {media!r} is not a feed or sitemap")
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > p.max_bytes:
            raise FetchError(url, "too_large", f"{int(declared)} bytes declared, more than the cap of {p.max_bytes}")
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > p.max_bytes:
                raise FetchError(url, "too_large", f"more than the cap of {p.max_bytes} bytes")
            if self._clock() - started > deadline:
                raise _Overdue(url, "timeout", f"response took longer than {deadline:.0f} s")
            chunks.append(chunk)
        return Page(
            url=url,
            status=200,
            body=b"".join(chunks),
            content_type=media,
            charset=charset,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        )
