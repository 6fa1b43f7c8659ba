"""Connection limits under uvicorn: what a slow or hostile client may hold.

uvicorn times out idle keep-alive connections, but nothing bounds how long a client may take to
send a request: its keep-alive timer is reset by every byte, and a connection that sends nothing
is never timed out. ASGI middleware cannot help, as it runs only once the headers are in. So
the HTTP protocol is uvicorn's own h11 protocol with three limits added where connections are
made and bytes arrive:

- a deadline for receiving each request, headers and body: past it the client gets 408 and the
  connection is closed;
- a cap on open connections in all, below the process's descriptor limit, so that accepting
  never fails for want of descriptors (``socket.accept() out of system resource``);
- a cap on open connections per client address, so that one client cannot take them all and
  /healthz still answers. Addresses of trusted proxies (``--forwarded-allow-ips``, uvicorn's
  own setting, 127.0.0.1 by default) are exempt: nginx in front carries many clients over them,
  and it bounds each client itself.

A connection over a cap is answered 503 and closed at once, so it costs one descriptor for
microseconds.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("tracer")

DESCRIPTOR_RESERVE = 128
"""Descriptors kept for everything but client connections: the index's files, SQLite, the model,
logs, threads' pipes."""
ACCEPT_ERROR_EVERY = 10.0
"""Seconds between two log lines about a failing accept (asyncio logs one per attempt)."""


@dataclass(frozen=True)
class ConnectionLimits:
    request_timeout: float = 15.0
    """Seconds a client has to send a whole request, headers and body."""
    max_connections: int = 1000
    """Open connections in all (lowered to fit the descriptor limit: ``fit_descriptors``)."""
    max_client_connections: int = 32
    """Open connections per client address; 0: no per-client cap."""
    trusted: frozenset[str] = frozenset({"127.0.0.1"})
    """Client addresses exempt from the per-client cap: the reverse proxy's."""


def raise_descriptor_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit (as servers do at start);
    returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def fit_descriptors(limits: ConnectionLimits, soft_limit: int) -> ConnectionLimits:
    """``limits`` with ``max_connections`` below the descriptor limit, less ``DESCRIPTOR_RESERVE``."""
    room = max(8, soft_limit - DESCRIPTOR_RESERVE)
    if limits.max_connections <= room:
        return limits
    log.warning("at most %d open connections (the open-file limit is %d; raise it with ulimit -n or "
                "LimitNOFILE= to allow more)", room, soft_limit)  # fmt: skip
    return ConnectionLimits(limits.request_timeout, room, limits.max_client_connections, limits.trusted)


_REFUSED = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"retry-after: 2\r\nconnection: close\r\ncontent-length: 21\r\n\r\ntoo many connections\n")  # fmt: skip
_WAITING = (h11.IDLE, h11.SEND_BODY)
"""The client's h11 states while a request is still on its way."""


def protocol_class(limits: ConnectionLimits) -> type[H11Protocol]:
    """uvicorn's h11 protocol with ``limits``: pass it as ``uvicorn.Config(http=...)``."""

    class LimitedProtocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            host = self.client[0] if self.client else ""
            if len(self.connections) > limits.max_connections or (
                limits.max_client_connections and host not in limits.trusted
                and sum(1 for c in self.connections if c.client and c.client[0] == host)
                > limits.max_client_connections
            ):  # fmt: skip
                transport.write(_REFUSED)
                transport.close()
                return
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.transport.is_closing():
                self._disarm()
            elif self.conn.their_state in _WAITING:
                self._arm()  # the next request on a kept-alive connection has begun
            else:
                self._disarm()  # the whole request is in

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._deadline is None:
                self._deadline = self.loop.call_later(limits.request_timeout, self._expire)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self) -> None:
            """Too slow: 408 if no answer has begun, then close (the app, if it was reading the
            body, sees the client gone)."""
            self._deadline = None
            if self.transport.is_closing():
                return
            if self.cycle is None or not self.cycle.response_started:
                try:
                    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]
                    body = f"the request was not received within {limits.request_timeout:g} s\n".encode()
                    out = self.conn.send(h11.Response(status_code=408, headers=headers, reason=b"Request Timeout"))
                    out = (out or b"") + (self.conn.send(h11.Data(data=body)) or b"")
                    out += self.conn.send(h11.EndOfMessage()) or b""
                    self.transport.write(out)
                except h11.LocalProtocolError:
                    pass  # h11 cannot answer in this state: closing says enough
            if self.cycle is not None:  # the app reading the body sees the client gone; its answer goes nowhere
                self.cycle.disconnected = True
                self.cycle.message_event.set()
            self.transport.close()

    return LimitedProtocol


class AcceptErrorFilter(logging.Filter):
    """One line per ``ACCEPT_ERROR_EVERY`` seconds, without its traceback, for asyncio's
    "socket.accept() out of system resource" (it logs one per failed accept, which can fill a
    disk); every other record passes."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._last = float("-inf")
        self._dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if "out of system resource" not in record.getMessage():
            return True
        now = self._clock()
        if now - self._last < ACCEPT_ERROR_EVERY:
            self._dropped += 1
            return False
        record.msg = (f"cannot accept connections: out of file descriptors ({self._dropped} more such "
                      "errors not logged); raise the open-file limit or lower --max-connections")  # fmt: skip
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        self._last, self._dropped = now, 0
        return True
