"""`trace serve` against slow and held connections, and URL fetches that would hold a worker:
all on loopback (an attacker from 127.0.0.2, the newsroom's checks from 127.0.0.1)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import tracer
from tests.conftest import ROOT, HashEmbedder
from tests.site import Response, Site
from tests.test_serve import ARTICLE, SOURCES, Gate, Server, add, error_of
from tracer.service._limits import AcceptErrorFilter, ConnectionLimits, protocol_class
from tracer.service._service import ServiceSettings, create_app
from tracer.tracing._judge import rule_for

pytestmark = pytest.mark.heavy


class LimitedServer(Server):
    """The test service's uvicorn thread with tracer's connection limits, as `trace serve` runs it."""

    def __init__(self, app: Any, limits: ConnectionLimits) -> None:
        super().__init__(app, http=protocol_class(limits))
        self.wait_ready()


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[Callable[..., LimitedServer]]:
    path = tmp_path / "index"
    add(path, SOURCES, HashEmbedder())
    started: list[LimitedServer] = []

    def start(limits: ConnectionLimits, embedder: HashEmbedder | None = None, **settings: Any) -> LimitedServer:
        e = embedder or HashEmbedder()
        app = create_app(lambda: tracer.Tracer(path, e, rule_for(e.info.name)), ServiceSettings(**settings))
        server = LimitedServer(app, limits)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def _read_all(sock: socket.socket, within: float) -> bytes:
    sock.settimeout(within)
    out = b""
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except TimeoutError:
        raise AssertionError(f"connection still open after {within} s; got {out[:200]!r}") from None
    return out


def test_a_client_too_slow_with_its_request_gets_408_and_is_closed(limited: Callable[..., LimitedServer]) -> None:
    server = limited(ConnectionLimits(request_timeout=0.5))
    headers_only = socket.create_connection(("127.0.0.1", server.port))
    headers_only.sendall(b"POST /v1/trace HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # the rest never comes
    half_body = socket.create_connection(("127.0.0.1", server.port))
    half_body.sendall(b"POST /v1/trace HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 100\r\n\r\n{\"text\": ")  # fmt: skip
    silent = socket.create_connection(("127.0.0.1", server.port))
    start = time.monotonic()
    for sock in (headers_only, half_body):
        answer = _read_all(sock, 5)
        assert answer.startswith(b"HTTP/1.1 408 ") and b"connection: close" in answer.lower()
    assert _read_all(silent, 5).startswith(b"HTTP/1.1 408 ")  # one that never sends a byte is closed too
    assert time.monotonic() - start < 3
    # a client that sends in time is served as before, on a kept-alive connection, twice
    with httpx.Client() as client:
        for _ in range(2):
            assert client.post(server.base + "/v1/trace", json={"text": ARTICLE}).status_code == 200


def test_a_client_over_its_connection_cap_is_refused_at_once(limited: Callable[..., LimitedServer]) -> None:
    server = limited(ConnectionLimits(request_timeout=5, max_client_connections=3))
    held = []
    for _ in range(3):
        sock = socket.socket()
        sock.bind(("127.0.0.2", 0))
        sock.connect(("127.0.0.1", server.port))
        held.append(sock)
    time.sleep(0.2)
    extra = socket.socket()
    extra.bind(("127.0.0.2", 0))
    extra.connect(("127.0.0.1", server.port))
    assert _read_all(extra, 2).startswith(b"HTTP/1.1 503 ")
    # another address, and the trusted proxy's (127.0.0.1), are not held up by that client
    other = socket.socket()
    other.bind(("127.0.0.3", 0))
    other.connect(("127.0.0.1", server.port))
    other.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert _read_all(other, 2).startswith(b"HTTP/1.1 200 ")
    assert httpx.get(server.base + "/healthz").status_code == 200
    for sock in held:
        sock.close()


@pytest.mark.parametrize(("headers", "body", "expected"), [
    ({"Content-Type": "application/json"}, b'{"text": "x"}', 401),
    ({"Content-Type": "text/plain", "Authorization": "Bearer s3cret"}, b"x", 415),
    ({"Content-Type": "application/json", "Authorization": "Bearer s3cret"}, b"x" * 2000, 413),
])  # fmt: skip
def test_refusals_close_the_connection(limited: Callable[..., LimitedServer], headers: dict[str, str], body: bytes,
                                       expected: int) -> None:  # fmt: skip
    server = limited(ConnectionLimits(request_timeout=5), token="s3cret", max_body_bytes=1000)
    sock = socket.create_connection(("127.0.0.1", server.port))
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock.sendall(f"POST /v1/trace HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode()
                 + body)  # fmt: skip
    answer = _read_all(sock, 3)  # read to the end: the server closes
    assert answer.startswith(f"HTTP/1.1 {expected} ".encode()) and b"connection: close" in answer.lower()


def test_a_client_that_leaves_mid_upload_is_one_quiet_access_line(
    limited: Callable[..., LimitedServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = limited(ConnectionLimits(request_timeout=5))
    caplog.set_level(logging.INFO, logger="tracer.access")
    for path in ("/v1/trace", "/"):
        sock = socket.create_connection(("127.0.0.1", server.port))
        kind = "application/json" if path != "/" else "application/x-www-form-urlencoded"
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {kind}\r\n"
                     "Content-Length: 5000\r\n\r\n".encode() + b"x" * 100)  # fmt: skip
        time.sleep(0.2)
        sock.close()

    def lines() -> list[str]:  # the fixture's readiness probe may be logged after the level is set
        return [
            m
            for r in caplog.records
            if r.name == "tracer.access" and not (m := r.getMessage()).startswith("GET /readyz ")
        ]

    deadline = time.monotonic() + 5
    while len(lines()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [line.split()[:3] for line in lines()] == [["POST", "/v1/trace", "499"], ["POST", "/", "499"]]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_a_url_that_asks_to_wait_longer_than_the_request_may_does_not_hold_the_worker(
    limited: Callable[..., LimitedServer],
) -> None:
    site = Site()
    try:
        site.route("/later", *[Response(status=503, headers={"Retry-After": "40"})] * 3)
        site.route("/silent", Response(delay=30))  # never answers in time
        gate = Gate()
        server = limited(ConnectionLimits(), embedder=gate, workers=1, queue=2, timeout=2,
                         allow_private_urls=True)  # fmt: skip
        start = time.monotonic()
        r = httpx.post(server.base + "/v1/trace", json={"url": site.url("/later")}, timeout=10)
        assert error_of(r) == (400, "bad_input") and "budget" in r.json()["error"]["message"]
        assert time.monotonic() - start < 1.5 and len(site.requests_to("/later")) == 1
        start = time.monotonic()
        r = httpx.post(server.base + "/v1/trace", json={"url": site.url("/silent")}, timeout=10)
        assert error_of(r) == (503, "timeout")
        assert time.monotonic() - start < 3
        # the one worker is free again within moments of that 503, not after the page's 30 s
        time.sleep(0.3)
        start = time.monotonic()
        assert httpx.post(server.base + "/v1/trace", json={"text": ARTICLE}, timeout=10).status_code == 200
        assert time.monotonic() - start < 1.5
    finally:
        site.close()


def test_accept_errors_are_logged_once_in_a_while_without_tracebacks() -> None:
    now = [0.0]
    f = AcceptErrorFilter(clock=lambda: now[0])

    def record(msg: str) -> logging.LogRecord:
        try:
            raise OSError(24, "Too many open files")
        except OSError:
            return logging.LogRecord("asyncio", logging.ERROR, "", 0, msg, (), sys.exc_info())

    kept = []
    for _ in range(1000):
        r = record("socket.accept() out of system resource")
        if f.filter(r):
            kept.append(r)
        now[0] += 0.03  # 30 s of failing accepts
    assert len(kept) == 3 and all(r.exc_info is None for r in kept)
    assert "(0 more" in kept[0].getMessage() and "(333 more such errors not logged)" in kept[1].getMessage()
    assert f.filter(logging.LogRecord("asyncio", logging.ERROR, "", 0, "something else", (), None))


def _answer(sock: socket.socket) -> bytes | None:
    """What the server sent before it closed ``sock``; None if it is still open."""
    sock.setblocking(True)
    sock.settimeout(0.5)
    out = b""
    try:
        while chunk := sock.recv(1 << 16):
            out += chunk
    except TimeoutError:
        return None
    except OSError:
        pass
    finally:
        sock.close()
    return out


SERVE = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    sys.path.insert(0, {root!r})
    import tracer, tracer._api
    from tests.conftest import HashEmbedder
    from tracer.tracing._judge import rule_for
    e = HashEmbedder()
    tracer._api.Tracer.open = classmethod(lambda cls, path, **kw: cls(path, e, rule_for(e.info.name)))
    from cli import main
    main(["serve", "--index", {index!r}, "--port", {port!r}, "--request-timeout", "2"])
""")


def test_many_trickling_connections_leave_healthz_answering_and_the_log_small(tmp_path: Path) -> None:
    """`trace serve` with 256 file descriptors: 300 connections from one address trickle a byte
    every half second for 5 s (the cap keeps 32 of them, the deadline closes those); /healthz
    from the newsroom's address answers throughout, and the log stays a few lines."""
    index = tmp_path / "index"
    add(index, SOURCES, HashEmbedder())
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    script = SERVE.format(root=str(ROOT), index=str(index), port=str(port))
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=log_file, stderr=log_file, cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, log_path.read_text()
            time.sleep(0.1)
        attackers: list[socket.socket] = []
        for _ in range(300):
            sock = socket.socket()
            sock.bind(("127.0.0.2", 0))
            sock.setblocking(False)
            try:
                sock.connect_ex(("127.0.0.1", port))
            except OSError:
                sock.close()
                continue
            attackers.append(sock)
        failures: list[str] = []
        stop = threading.Event()

        def check() -> None:
            while not stop.is_set():
                try:
                    answer = httpx.get(base + "/healthz", timeout=1.5)
                    if answer.status_code != 200:
                        failures.append(f"status {answer.status_code}: {answer.text[:80]}")
                except httpx.TransportError as exc:
                    failures.append(type(exc).__name__)
                time.sleep(0.2)

        checker = threading.Thread(target=check)
        checker.start()
        line = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for step in range(10):
            for sock in attackers:
                with contextlib.suppress(OSError):  # refused or timed out by the server: as it should be
                    sock.send(line[step : step + 1] or b"X")
            time.sleep(0.5)
        stop.set()
        checker.join()
        assert not failures, failures
        answers = [_answer(sock) for sock in attackers]
        assert None not in answers  # every held connection was closed by its deadline
        assert 0 < sum(a.startswith(b"HTTP/1.1 408 ") for a in answers if a) <= 32
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(15)
    log = log_path.read_text(encoding="utf-8", errors="replace")
    assert len(log) < 20_000 and "Traceback" not in log, log[-3000:]
