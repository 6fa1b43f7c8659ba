"""``trace serve``: the HTTP API and the editors' web page over one :class:`Tracer`.

Starlette under uvicorn rather than FastAPI: the report already has a JSON Schema
(``report.schema.json``), which the OpenAPI document references as it is, so pydantic models
would only restate it; Starlette is FastAPI's own core, without the model layer.

Tracing is CPU work: it runs in a small thread pool (one worker per core by default) behind a
bounded queue. A request that finds the queue full gets a 503 at once, with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs

from tracer._errors import InputError, TracerError

log = logging.getLogger("tracer")
access_log = logging.getLogger("tracer.access")

FORMATS = {"json": "application/json", "html": "text/html; charset=utf-8",
           "markdown": "text/markdown; charset=utf-8", "text": "text/plain; charset=utf-8"}  # fmt: skip
FIELDS = {"text", "url", "name", "before", "top_k", "threshold", "format"}
CSP = ("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'; img-src 'none'")  # fmt: skip


@dataclass(frozen=True)
class ServiceSettings:
    """Limits and policy; every one has a `trace serve` flag."""

    max_body_bytes: int = 1_000_000
    max_sentences: int = 300
    timeout: float = 30.0
    """Seconds a request may take, waiting in the queue included."""
    workers: int = 2
    queue: int = 8
    """Requests that may wait for a worker; one more gets a 503."""
    token: str | None = None
    allow_private_urls: bool = False
    cors_origins: tuple[str, ...] = ()
    retry_after: int = 2
    allowed_hosts: tuple[str, ...] | None = None
    """Host header values served (None: any); `trace serve` on a loopback address allows only
    loopback names unless told others (--allowed-host)."""


class ServiceError(Exception):
    """An answer other than a report: a status, a stable code and a message for the client."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}

    @classmethod
    def of(cls, exc: ServiceError | TracerError) -> ServiceError:
        """A library error as the client sees it: its own HTTP status and code."""
        if isinstance(exc, ServiceError):
            return exc
        return cls(exc.http_status, exc.code, exc.message or str(exc))  # without command-line advice


@dataclass
class _State:
    tracer: Any = None
    error: str | None = None
    in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class TraceRequest:
    text: str | None
    url: str | None
    name: str
    before: str | None
    top_k: int
    threshold: float | None
    fmt: str
    fragment: bool = False
    """HTML as a fragment for the editors' page (its body only), not a document of its own."""


ECHO = 60
"""Characters of a client's own value that an error message repeats."""


def _echo(value: object) -> str:
    """A client's value for an error message: short, and encodable whatever it held (lone surrogates)."""
    text = str(value)
    text = text if len(text) <= ECHO else f"{text[:ECHO]}..."
    return repr(text.encode("utf-8", "backslashreplace").decode("utf-8"))


def _string(data: dict[str, Any], key: str) -> str | None:
    """A string field, None when absent or empty; any other type, or text that is not valid
    Unicode (a lone surrogate from a JSON escape), is the client's mistake."""
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ServiceError(400, "bad_input", f"'{key}' must be a string, not {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ServiceError(400, "bad_input", f"'{key}' is not valid Unicode (a lone surrogate?)") from None
    return value


def _number(data: dict[str, Any], key: str, kind: type, low: float, high: float) -> Any:
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ServiceError(400, "bad_input", f"'{key}' must be a number from {low:g} to {high:g}")
    try:
        number = float(value)
        if kind is int and number != int(number):
            raise ValueError(value)
    except (TypeError, ValueError, OverflowError):
        raise ServiceError(400, "bad_input", f"'{key}' must be {'an integer' if kind is int else 'a number'} "
                           f"from {low:g} to {high:g}, not {_echo(value)}") from None  # fmt: skip
    if not low <= number <= high:  # NaN fails this too
        raise ServiceError(400, "bad_input", f"'{key}' must be from {low:g} to {high:g}, not {_echo(value)}")
    return kind(number)


def parse_request(data: dict[str, Any], *, default_format: str = "json") -> TraceRequest:
    """Check a request's fields (JSON body or the page's form) before any work is queued."""
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        listed = ", ".join(_echo(k) for k in unknown[:3]) + (
            f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
        )
        raise ServiceError(400, "unknown_field", f"unknown field(s) {listed}; known: {', '.join(sorted(FIELDS))}")
    text = _string(data, "text")
    url = _string(data, "url")
    url = url.strip() or None if url is not None else None
    if (text is None) == (url is None):
        raise ServiceError(
            400, "bad_input", "give either 'text' (the article) or 'url' (its page), not both or neither"
        )
    if url is not None:
        _check_url_syntax(url)
    fmt = _string(data, "format") or default_format
    if fmt not in FORMATS:
        raise ServiceError(400, "bad_input", f"'format' must be one of {', '.join(FORMATS)}, not {_echo(fmt)}")
    top_k = _number(data, "top_k", int, 1, 20)
    top_k = 3 if top_k is None else top_k
    threshold = _number(data, "threshold", float, 0.0, 1.0)
    before = _string(data, "before")
    if before is not None:
        from tracer._api import before_iso

        if len(before) > 40:
            raise ServiceError(400, "bad_input", f"'before' must be a date such as 2025-08-13, not {_echo(before)}")
        try:
            before = before_iso(before)
        except (InputError, ValueError, OverflowError):
            raise ServiceError(400, "bad_input",
                               f"'before' must be a date such as 2025-08-13, not {_echo(before)}") from None  # fmt: skip
    name = (_string(data, "name") or url or "article")[:200]
    return TraceRequest(text, url, name, before, top_k, threshold, fmt)


def _check_url_syntax(url: str) -> None:
    """A URL that can be parsed and whose host can be encoded; where it points is checked when fetched."""
    from urllib.parse import urlsplit

    if not url.startswith(("http://", "https://")):
        raise ServiceError(400, "bad_input", f"'url' must be an http(s) URL, not {_echo(url)}")
    try:
        host = urlsplit(url).hostname
        if not host:
            raise ValueError("no host")
        if not host.startswith("["):
            host.encode("idna")
    except (ValueError, UnicodeError) as exc:
        raise ServiceError(400, "bad_input", f"'url' is not a valid URL ({_echo(exc)[1:-1]}): {_echo(url)}") from None


class TraceService:
    """The work behind the routes, apart from HTTP: load, admit, trace, render."""

    def __init__(self, load: Callable[[], Any], settings: ServiceSettings) -> None:
        self.settings = settings
        self._load = load
        self._state = _State()
        self._pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="trace")
        self.ready = threading.Event()

    def start(self, on_fatal: Callable[[TracerError], None] | None = None) -> None:
        """Load the model and index in the background, so /healthz answers at once."""

        def load() -> None:
            try:
                self._state.tracer = self._load()
                self.ready.set()
                log.info("ready: model and index loaded")
            except TracerError as exc:
                self._state.error = str(exc)
                if on_fatal:
                    on_fatal(exc)  # the caller reports it (trace serve: one Error: line, and exits)
                else:
                    log.error("%s", exc)

        threading.Thread(target=load, name="load", daemon=True).start()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._state.tracer is not None:
            self._state.tracer.close()

    @property
    def tracer(self) -> Any:
        if not self.ready.is_set():
            reason = self._state.error or "the model and index are still loading"
            raise ServiceError(503, "not_ready", reason, {"Retry-After": str(self.settings.retry_after)})
        return self._state.tracer

    def check_token(self, given: str | None) -> None:
        want = self.settings.token
        if want and not (given and hmac.compare_digest(given.encode(), want.encode())):
            raise ServiceError(401, "unauthorized", "a valid bearer token is required",
                               {"WWW-Authenticate": 'Bearer realm="tracer"'})  # fmt: skip

    async def run(self, request: TraceRequest, state: dict[str, Any]) -> tuple[str, str]:
        """The rendered report and its media type, within the queue bound and the time limit."""
        tracer = self.tracer
        s = self.settings
        with self._state.lock:
            if self._state.in_flight >= s.workers + s.queue:
                raise ServiceError(503, "busy", f"{self._state.in_flight} articles are being traced or waiting; "
                                   "try again shortly", {"Retry-After": str(s.retry_after)})  # fmt: skip
            self._state.in_flight += 1
        deadline = time.monotonic() + s.timeout
        future: Future[tuple[str, str]] = self._pool.submit(self._work, tracer, request, state, deadline)
        future.add_done_callback(self._release)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), s.timeout)
        except TimeoutError:
            future.cancel()  # a request still queued never starts; one running finishes in the background
            raise ServiceError(503, "timeout", f"tracing took longer than the {s.timeout:g} s limit; "
                               "try again, or send a shorter article", {"Retry-After": str(s.retry_after)}) from None  # fmt: skip

    def _release(self, _: Future[tuple[str, str]]) -> None:
        with self._state.lock:
            self._state.in_flight -= 1

    def _work(self, tracer: Any, request: TraceRequest, state: dict[str, Any], deadline: float) -> tuple[str, str]:
        """Runs in a worker. ``deadline`` is when the request answers 503 timeout: a URL fetch
        gets the time left as its whole budget, retries and Retry-After waits included, so the
        worker is free by then; work that would start after it is skipped."""
        from tracer._api import fetch_article, prepare
        from tracer.report._views import render, render_html_body

        if request.url is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ServiceError(503, "timeout", "the request waited past its time limit")
            article = fetch_article(request.url, allow_private=self.settings.allow_private_urls, budget=left)
            if time.monotonic() >= deadline:
                raise ServiceError(503, "timeout", "fetching the page took the request's whole time limit")
            prepared = prepare(article, tracer.detector)
        else:
            prepared = tracer.prepare(request.text, request.name)
        state["sentences"] = len(prepared.sentences)
        if len(prepared.sentences) > self.settings.max_sentences:
            raise ServiceError(413, "too_long", f"the article has {len(prepared.sentences)} sentences; "
                               f"this service traces up to {self.settings.max_sentences} per request")  # fmt: skip
        report = tracer.trace(prepared, before=request.before, top_k=request.top_k, threshold=request.threshold)
        if request.fragment and request.fmt == "html":
            return render_html_body(report), FORMATS["html"]
        return render(report, request.fmt), FORMATS[request.fmt]

    async def stats(self) -> dict[str, Any]:
        tracer = self.tracer
        try:
            return await asyncio.to_thread(tracer.stats)
        except (OSError, sqlite3.Error) as exc:  # the index directory removed or damaged while serving
            raise ServiceError(503, "not_ready", f"the index at {tracer.path} cannot be read ({exc})",
                               {"Retry-After": str(self.settings.retry_after)}) from None  # fmt: skip


# -- HTTP ----------------------------------------------------------------------------------------


CLOSING = frozenset({401, 408, 413, 415})
"""Answers after which the connection is closed: the client may still be sending a body that
nobody will read (or should not be sending at all)."""


def _error(exc: ServiceError) -> Any:
    from starlette.responses import JSONResponse

    headers = {**exc.headers, "Connection": "close"} if exc.status in CLOSING else exc.headers
    return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, exc.status, headers=headers)


CLIENT_GONE = 499
"""Status the access log records for a client that went away before its answer (nginx's code);
nothing is sent."""


async def read_body(request: Any, limit: int) -> bytes:
    """The body, refused past ``limit`` bytes whether or not Content-Length says so."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise ServiceError(413, "too_large", f"the request body is over the {limit:,}-byte limit")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ServiceError(413, "too_large", f"the request body is over the {limit:,}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _bearer(request: Any) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ServiceError(400, "bad_json", f"the body is not valid JSON ({str(exc)[:120]})") from None
    if not isinstance(data, dict):
        raise ServiceError(400, "bad_json", "the body must be a JSON object")
    return data


def _form(body: bytes) -> dict[str, str]:
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ServiceError(400, "bad_input", f"the form could not be read ({str(exc)[:120]})") from None
    return {k: v[-1] for k, v in fields.items()}


def create_app(load: Callable[[], Any], settings: ServiceSettings = ServiceSettings(),
               on_fatal: Callable[[TracerError], None] | None = None) -> Any:  # fmt: skip
    """The ASGI app. ``load`` returns a :class:`Tracer`; it runs in the background at start-up."""
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    from tracer.service import _openapi, _webpage

    service = TraceService(load, settings)

    from starlette.requests import ClientDisconnect

    def guarded(handler: Callable[[Any], Awaitable[Any]]) -> Callable[[Any], Awaitable[Any]]:
        async def endpoint(request: Any) -> Any:
            try:
                return await handler(request)
            except ServiceError as exc:
                return _error(exc)
            except TracerError as exc:  # bad article, unreachable URL, ...: the client's to fix
                return _error(ServiceError.of(exc))
            except ClientDisconnect:  # went away mid-upload (or was too slow): one access line, no traceback
                return Response(status_code=CLIENT_GONE)

        return endpoint

    async def trace(request: Any) -> Any:
        service.check_token(_bearer(request))
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise ServiceError(415, "unsupported_media_type", "send the request as application/json")
        parsed = parse_request(_json_object(await read_body(request, settings.max_body_bytes)))
        body, media = await service.run(parsed, request.scope.setdefault("state", {}))
        headers = {"Content-Security-Policy": CSP} if parsed.fmt == "html" else {}
        return Response(body, media_type=media, headers=headers)

    async def index_stats(request: Any) -> Any:
        service.check_token(_bearer(request))
        return JSONResponse(await service.stats())

    async def healthz(request: Any) -> Any:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Any) -> Any:
        service.tracer  # noqa: B018  (raises 503 not_ready until loaded)
        return JSONResponse(
            {"status": "ready", "generation": await asyncio.to_thread(lambda: service.tracer.generation)}
        )

    async def openapi(request: Any) -> Any:
        return JSONResponse(_openapi.document())

    async def page(request: Any) -> Any:
        headers = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"}
        if request.method in ("GET", "HEAD"):
            return HTMLResponse(_webpage.page(token_field=bool(settings.token)), headers=headers)
        values: dict[str, str] = {}
        try:
            values = _form(await read_body(request, settings.max_body_bytes))
            service.check_token(values.pop("token", None) or None)
            parsed = replace(parse_request(values, default_format="html"), fragment=True)
            body, media = await service.run(parsed, request.scope.setdefault("state", {}))
        except (ServiceError, TracerError) as exc:
            err = ServiceError.of(exc)
            return HTMLResponse(_webpage.page(values, error=err.message, token_field=bool(settings.token)),
                                err.status, headers={**headers, **err.headers})  # fmt: skip
        if parsed.fmt == "html":
            return HTMLResponse(_webpage.page(values, report_html=body, token_field=bool(settings.token)),
                                headers=headers)  # fmt: skip
        suffix = {"json": "json", "markdown": "md", "text": "txt"}[parsed.fmt]
        return Response(body, media_type=media, headers={
            **headers, "Content-Disposition": f'attachment; filename="tracer-report.{suffix}"'})  # fmt: skip

    @asynccontextmanager
    async def lifespan(app: Any) -> Any:
        service.start(on_fatal)
        yield
        service.close()

    middleware = [Middleware(AccessLog)]
    if settings.allowed_hosts is not None:  # a page elsewhere cannot reach a loopback service by DNS rebinding
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts),
                                     www_redirect=False))  # fmt: skip
    if settings.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        middleware.append(Middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                                     allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"]))  # fmt: skip
    routes = [
        Route("/", guarded(page), methods=["GET", "POST"]),
        Route("/v1/trace", guarded(trace), methods=["POST"]),
        Route("/v1/index", guarded(index_stats), methods=["GET"]),
        Route("/healthz", guarded(healthz), methods=["GET"]),
        Route("/readyz", guarded(readyz), methods=["GET"]),
        Route("/openapi.json", guarded(openapi), methods=["GET"]),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={404: _not_found, 405: _not_allowed, 500: _internal})  # fmt: skip
    app.router.redirect_slashes = False  # a redirect would name whatever Host the client sent
    app.state.service = service
    return app


async def _not_found(request: Any, exc: Exception) -> Any:
    return _error(ServiceError(404, "not_found", f"no such endpoint: {_echo(request.url.path)}"))


async def _not_allowed(request: Any, exc: Exception) -> Any:
    return _error(ServiceError(405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}"))


async def _internal(request: Any, exc: Exception) -> Any:
    log.exception("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error(ServiceError(500, "internal", "internal error; the server log has the details"))


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def loggable(path: str, limit: int = 300) -> str:
    """A request path as one safe log field: control characters escaped (a decoded %0A would
    start a forged log line), lone surrogates too, and long paths cut."""
    text = _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                            else f"\\u{ord(m.group()):04x}", path)  # fmt: skip
    return text if len(text) <= limit else f"{text[:limit]}..."


class AccessLog:
    """One line per request on stderr: method, path, status, milliseconds, sentences traced."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]
        scope.setdefault("state", {})

        async def recording(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording)
        finally:
            sentences = scope["state"].get("sentences", "-")
            access_log.info("%s %s %d %.0fms sentences=%s", scope["method"], loggable(scope["path"]), status[0],
                            (time.perf_counter() - start) * 1000, sentences)  # fmt: skip
