"""A local news site for crawler tests, on 127.0.0.1 only: feeds, sitemaps, robots.txt and
article pages, with injectable faults, and a log of every request it received."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering (a slow server)."""
    etag: str | None = None
    stream_bytes: int = 0
    """Send this many bytes of filler in chunks instead of ``body`` (a huge page)."""
    trickle: float = 0.0
    """Send the status line and headers one byte every this many seconds (a hostile server)."""


@dataclass(frozen=True)
class Hit:
    path: str
    headers: dict[str, str]
    at: float
    status: int


class Site:
    def __init__(self) -> None:
        self._routes: dict[str, list[Response]] = {}
        self._served: dict[str, int] = {}
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                site._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        return self.base + path

    # -- content ---------------------------------------------------------------------------

    def route(self, path: str, *responses: Response) -> None:
        """Serve ``responses`` in turn to successive requests; the last one repeats."""
        with self._lock:
            self._routes[path] = list(responses)
            self._served[path] = 0

    def article(
        self,
        path: str,
        title: str,
        paragraphs: list[str],
        *,
        charset: str = "utf-8",
        header_charset: str | None = "same",
        meta_charset: bool = True,
        canonical: str | None = None,
        etag: str | None = "auto",
    ) -> None:
        meta = f'<meta charset="{charset}">' if meta_charset else ""
        link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
        body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
        html = (
            f"<!DOCTYPE html><html><head>{meta}<title>{escape(title)}</title>{link}</head><body>"
            "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
            f"<main><article><h1>{escape(title)}</h1>{body}</article></main>"
            "<footer>All rights reserved. Contact us.</footer></body></html>"
        ).encode(charset, "xmlcharrefreplace")  # as 8-bit sites do for characters they cannot encode
        declared = charset if header_charset == "same" else header_charset
        content_type = f"text/html; charset={declared}" if declared else "text/html"
        tag = f'"{abs(hash(html)):x}"' if etag == "auto" else etag
        self.route(path, Response(body=html, content_type=content_type, etag=tag))

    def rss(self, path: str, items: list[tuple[str, datetime | None]], *, malformed: bool = False) -> None:
        entries = "".join(
            f"<item><title>t</title><link>{escape(self.url(p) if p.startswith('/') else p)}</link>"
            + (f"<pubDate>{format_datetime(d)}</pubDate>" if d else "")
            + "</item>"
            for p, d in items
        )
        xml = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>x</title>{entries}</channel></rss>'
        if malformed:
            xml = xml.replace("</channel>", "<item><link>broken</channel>")
        self.route(path, Response(body=xml.encode(), content_type="application/rss+xml"))

    def sitemap(self, path: str, items: list[tuple[str, datetime | None]]) -> None:
        entries = "".join(
            f"<url><loc>{escape(self.url(p))}</loc>" + (f"<lastmod>{d.isoformat()}</lastmod>" if d else "") + "</url>"
            for p, d in items
        )
        xml = f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
        self.route(path, Response(body=xml.encode(), content_type="application/xml"))

    def robots(self, text: str) -> None:
        self.route("/robots.txt", Response(body=text.encode(), content_type="text/plain"))

    # -- what happened ---------------------------------------------------------------------

    def requests_to(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]

    def bodies_served(self) -> list[str]:
        """Paths answered with a 200 article page."""
        return [h.path for h in self.hits if h.status == 200 and h.path not in ("/robots.txt",)
                and not h.path.endswith((".xml", ".rss"))]  # fmt: skip

    # -- serving -----------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path
        with self._lock:
            responses = self._routes.get(path)
            if responses:
                n = self._served[path]
                self._served[path] = n + 1
                response = responses[min(n, len(responses) - 1)]
            else:
                response = Response(status=404, body=b"not found", content_type="text/plain")
        status = response.status
        if response.etag and request.headers.get("If-None-Match") == response.etag and status == 200:
            status = 304
        self.hits.append(Hit(path, dict(request.headers), time.monotonic(), status))
        if response.delay:
            time.sleep(response.delay)
        if response.trickle:
            head = f"HTTP/1.1 {status} OK\r\nContent-Type: {response.content_type}\r\n" + "X-Pad: " + "x" * 200 + "\r\n"
            try:
                for byte in head.encode():
                    request.wfile.write(bytes([byte]))
                    request.wfile.flush()
                    time.sleep(response.trickle)
            except (BrokenPipeError, ConnectionResetError, OSError):
                pass
            return
        try:
            request.send_response(status)
            for key, value in response.headers.items():
                request.send_header(key, value)
            if response.etag:
                request.send_header("ETag", response.etag)
            if status == 304:
                request.end_headers()
                return
            request.send_header("Content-Type", response.content_type)
            if response.stream_bytes:
                request.end_headers()  # no Content-Length: the client must cut it off itself
                chunk = b"x" * 65536
                sent = 0
                while sent < response.stream_bytes:
                    request.wfile.write(chunk)
                    sent += len(chunk)
                return
            request.send_header("Content-Length", str(len(response.body)))
            request.end_headers()
            request.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            pass
