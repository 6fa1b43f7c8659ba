"""`trace serve` against a real uvicorn on 127.0.0.1, with the stand-in embedder: every endpoint,
the error answers, the token, the queue bound, the time limit and a refresh published while
the server runs."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import numpy as np
import pytest
import uvicorn
from click.testing import CliRunner

import index as ix
import tracer
from cli import main
from tests.conftest import HashEmbedder
from tests.site import Site
from tracer.service._service import ServiceSettings, create_app
from tracer.tracing._judge import rule_for

SCHEMA = json.loads((Path(tracer.__file__).parent / "report.schema.json").read_text(encoding="utf-8"))
SOURCES = [
    {"url": "https://a.example/kursk", "outlet": "The Guardian", "lang": "en", "title": "Troops", "published": "2024-11-05",
     "text": "North Korean troops arrived in Kursk region on Tuesday. The White House called them legitimate targets."},
]  # fmt: skip
ARTICLE = "North Korean troops arrived in Kursk region on Tuesday.\nPemerintah Indonesia mengimbau warga tetap waspada."
LATER = {"url": "https://c.example/port", "outlet": "Reuters", "lang": "en", "title": "Port", "published": "2024-11-06",
         "text": "Drones struck the port of Odesa overnight, damaging two grain ships."}  # fmt: skip


def add(path: Path, records: list[dict[str, Any]], embedder: HashEmbedder) -> None:
    with ix.writer_for(path, embedder, "torch") as writer:
        writer.add([ix.document_from_record(r) for r in records])


class Gate(HashEmbedder):
    """The stand-in embedder, held at a gate: lets a test keep a request busy for as long as it likes."""

    def __init__(self) -> None:
        super().__init__()
        self.open = threading.Event()
        self.open.set()
        self.entered = threading.Event()

    def embed(self, texts: Sequence[str], *, role: str, show_progress: bool = False) -> np.ndarray:
        if role == "query":
            self.entered.set()
            self.open.wait(10)
        return super().embed(texts, role=role)


class Server:
    """A uvicorn server in a thread, on a port of its own on 127.0.0.1."""

    def __init__(self, app: Any, http: Any = "auto") -> None:
        """``http``: uvicorn's HTTP protocol (a class of its own, e.g. with tracer's connection limits)."""
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False,
                                                    http=http))  # fmt: skip
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.server.started

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 10
        while httpx.get(self.base + "/readyz").status_code != 200:
            assert time.monotonic() < deadline, "not ready in 10 s"
            time.sleep(0.02)

    def close(self) -> None:
        self.server.should_exit = True
        self._thread.join(10)
        self._sock.close()


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    path = tmp_path / "index"
    add(path, SOURCES, HashEmbedder())
    return path


@pytest.fixture
def serve(index_dir: Path) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(embedder: HashEmbedder | None = None, load: Callable[[], Any] | None = None, **settings: Any) -> Server:
        embedder = embedder or HashEmbedder()
        load = load or (lambda: tracer.Tracer(index_dir, embedder, rule_for(embedder.info.name)))
        server = Server(create_app(load, ServiceSettings(**settings)))
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def error_of(response: httpx.Response) -> tuple[int, str]:
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return response.status_code, body["error"]["code"]


def test_trace_returns_the_schema_report_and_its_views(serve: Callable[..., Server]) -> None:
    server = serve()
    server.wait_ready()
    r = httpx.post(server.base + "/v1/trace", json={"text": ARTICLE, "name": "artikel.txt", "before": "2024-12-01"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    report = r.json()
    jsonschema.validate(report, SCHEMA)
    assert report["article"]["name"] == "artikel.txt"
    assert report["sentences"][0]["status"] == "traced"
    assert report["sentences"][0]["matches"][0]["url"] == "https://a.example/kursk"
    for fmt, media, marker in [("html", "text/html", '<div class="row traced'), ("markdown", "text/markdown", "###"),
                               ("text", "text/plain", "traced")]:  # fmt: skip
        r = httpx.post(server.base + "/v1/trace", json={"text": ARTICLE, "format": fmt})
        assert r.status_code == 200 and r.headers["content-type"].startswith(media) and marker in r.text
    before = httpx.post(server.base + "/v1/trace", json={"text": ARTICLE, "before": "2024-11-01"}).json()
    assert before["sentences"][0]["status"] == "no_source"  # the source came out later


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b"{", {}, 400, "bad_json"),
        (b"[1, 2]", {}, 400, "bad_json"),
        (b"\xff\xfe", {}, 400, "bad_json"),
        (b"[" * 100_000, {}, 400, "bad_json"),
        (json.dumps({"text": ARTICLE, "url": "https://x.example/"}).encode(), {}, 400, "bad_input"),
        (json.dumps({}).encode(), {}, 400, "bad_input"),
        (json.dumps({"text": ARTICLE, "colour": "red"}).encode(), {}, 400, "unknown_field"),
        (json.dumps({"text": ARTICLE, "top_k": 0}).encode(), {}, 400, "bad_input"),
        (json.dumps({"text": ARTICLE, "threshold": "high"}).encode(), {}, 400, "bad_input"),
        (json.dumps({"text": ARTICLE, "before": "yesterday"}).encode(), {}, 400, "bad_input"),
        (json.dumps({"text": ARTICLE, "format": "pdf"}).encode(), {}, 400, "bad_input"),
        (json.dumps({"text": 42}).encode(), {}, 400, "bad_input"),
        (json.dumps({"text": "   \n "}).encode(), {}, 400, "bad_input"),
        (json.dumps({"text": "\x00\x01\x02" * 100}).encode(), {}, 400, "bad_input"),
        (json.dumps({"url": "file:///etc/passwd"}).encode(), {}, 400, "bad_input"),
        (json.dumps({"text": ARTICLE}).encode(), {"content-type": "text/plain"}, 415, "unsupported_media_type"),
        # client mistakes that once gave 500 and two tracebacks
        *[(json.dumps({"url": bad}).encode(), {}, 400, "bad_input") for bad in (5, [1], {"a": 1}, True)],
        (json.dumps({"text": ARTICLE, "format": ["json"]}).encode(), {}, 400, "bad_input"),
        (b'{"text": "x y z.", "top_k": Infinity}', {}, 400, "bad_input"),
        (b'{"text": "x y z.", "top_k": NaN}', {}, 400, "bad_input"),
        (b'{"text": "x y z.", "threshold": NaN}', {}, 400, "bad_input"),
        (json.dumps({"text": ARTICLE, "top_k": 2.5}).encode(), {}, 400, "bad_input"),
        (json.dumps({"text": ARTICLE, "top_k": True}).encode(), {}, 400, "bad_input"),
        (b'{"text": "x y z.", "name": "\\ud800"}', {}, 400, "bad_input"),
        (b'{"url": "https://a.example/\\udc80"}', {}, 400, "bad_input"),
        (b'{"text": "x y z.", "\\ud800": 1}', {}, 400, "unknown_field"),
        *[
            (json.dumps({"url": bad}).encode(), {}, 400, "bad_input")
            for bad in ("http://[::1/", "http://[garbage]/", f"http://{'a' * 300}.example/", "http://")
        ],
        (json.dumps({"text": ARTICLE, "before": "1111" * 10_000}).encode(), {}, 400, "bad_input"),
    ],
)
def test_bad_requests_get_a_json_error_and_a_4xx(
    serve: Callable[..., Server], body: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    server = serve()
    server.wait_ready()
    r = httpx.post(server.base + "/v1/trace", content=body, headers={"content-type": "application/json", **headers})
    assert error_of(r) == (status, code)
    assert len(r.content) < 1000  # no echo of a client's huge value


def test_an_unknown_field_name_is_echoed_short(serve: Callable[..., Server]) -> None:
    server = serve()
    server.wait_ready()
    r = httpx.post(server.base + "/v1/trace", json={"text": ARTICLE, "k" * 990_000: 1})
    assert error_of(r) == (400, "unknown_field") and len(r.content) < 500


def test_limits_on_body_size_and_article_length(serve: Callable[..., Server]) -> None:
    server = serve(max_body_bytes=2000, max_sentences=3)
    server.wait_ready()
    big = json.dumps({"text": "Kalimat panjang. " * 200}).encode()
    assert error_of(
        httpx.post(server.base + "/v1/trace", content=big, headers={"content-type": "application/json"})
    ) == (413, "too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        yield from (big[i : i + 500] for i in range(0, len(big), 500))

    r = httpx.post(server.base + "/v1/trace", content=chunks(), headers={"content-type": "application/json"})
    assert error_of(r) == (413, "too_large")
    long = "\n".join(f"Kalimat nomor {i} tentang banjir di Jakarta." for i in range(5))
    r = httpx.post(server.base + "/v1/trace", json={"text": long})
    assert error_of(r) == (413, "too_long")
    assert "5 sentences" in r.json()["error"]["message"]


def test_unknown_paths_and_methods_are_json_errors(serve: Callable[..., Server]) -> None:
    server = serve()
    assert error_of(httpx.get(server.base + "/nowhere")) == (404, "not_found")
    assert error_of(httpx.get(server.base + "/v1/trace")) == (405, "method_not_allowed")


def test_ready_only_once_loaded_and_a_failed_load_says_why(serve: Callable[..., Server], index_dir: Path) -> None:
    release = threading.Event()
    embedder = HashEmbedder()

    def slow_load() -> tracer.Tracer:
        release.wait(10)
        return tracer.Tracer(index_dir, embedder, rule_for(embedder.info.name))

    server = serve(load=slow_load)
    assert httpx.get(server.base + "/healthz").json() == {"status": "ok"}
    r = httpx.get(server.base + "/readyz")
    assert error_of(r) == (503, "not_ready") and r.headers["retry-after"] == "2"
    assert error_of(httpx.post(server.base + "/v1/trace", json={"text": ARTICLE})) == (503, "not_ready")
    release.set()
    server.wait_ready()
    assert httpx.get(server.base + "/readyz").json() == {"status": "ready", "generation": 1}

    def broken() -> tracer.Tracer:
        raise tracer.ReferenceIndexError("no index at /nowhere; build one")

    failed = serve(load=broken)
    time.sleep(0.2)
    r = httpx.get(failed.base + "/readyz")
    assert error_of(r) == (503, "not_ready") and r.json()["error"]["message"] == "no index at /nowhere; build one"


def test_index_stats_and_openapi(serve: Callable[..., Server]) -> None:
    server = serve()
    server.wait_ready()
    stats = httpx.get(server.base + "/v1/index").json()
    assert (stats["documents"], stats["model"]["name"]) == (1, "hash-test")
    doc = httpx.get(server.base + "/openapi.json").json()
    assert doc["openapi"].startswith("3.1") and set(doc["paths"]) == {"/v1/trace", "/v1/index", "/healthz", "/readyz"}
    report = httpx.post(server.base + "/v1/trace", json={"text": ARTICLE}).json()
    # the report validates against the schema the OpenAPI document carries, references and all
    components = doc["components"]["schemas"]
    registry_schema = {**components["Report"], "$defs": {}, "components": {"schemas": components}}
    jsonschema.validate(report, registry_schema)
    ref = doc["paths"]["/v1/trace"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/Report"


def test_a_token_is_required_when_set(serve: Callable[..., Server]) -> None:
    server = serve(token="s3cret")
    server.wait_ready()
    r = httpx.post(server.base + "/v1/trace", json={"text": ARTICLE})
    assert error_of(r) == (401, "unauthorized") and r.headers["www-authenticate"].startswith("Bearer")
    r = httpx.post(server.base + "/v1/trace", json={"text": ARTICLE}, headers={"Authorization": "Bearer wrong"})
    assert error_of(r) == (401, "unauthorized")
    assert error_of(httpx.get(server.base + "/v1/index")) == (401, "unauthorized")
    ok = httpx.post(server.base + "/v1/trace", json={"text": ARTICLE}, headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200
    assert httpx.get(server.base + "/healthz").status_code == 200  # probes stay open
    page = httpx.get(server.base + "/").text
    assert 'name="token"' in page
    r = httpx.post(server.base + "/", data={"text": ARTICLE, "format": "html"})
    assert r.status_code == 401 and "Error: a valid bearer token is required" in r.text
    r = httpx.post(server.base + "/", data={"text": ARTICLE, "format": "html", "token": "s3cret"})
    assert r.status_code == 200 and '<div class="row traced' in r.text


def test_a_full_queue_gets_a_quick_503_and_a_slow_trace_a_timeout(serve: Callable[..., Server]) -> None:
    gate = Gate()
    server = serve(embedder=gate, workers=1, queue=0, timeout=5)
    server.wait_ready()
    gate.open.clear()
    results: list[httpx.Response] = []
    busy = threading.Thread(
        target=lambda: results.append(httpx.post(server.base + "/v1/trace", json={"text": ARTICLE}, timeout=20))
    )
    busy.start()
    assert gate.entered.wait(5)
    start = time.monotonic()
    r = httpx.post(server.base + "/v1/trace", json={"text": ARTICLE})
    assert error_of(r) == (503, "busy") and r.headers["retry-after"] == "2"
    assert time.monotonic() - start < 1.0
    gate.open.set()
    busy.join(10)
    assert results[0].status_code == 200

    slow = Gate()
    server = serve(embedder=slow, timeout=0.3)
    server.wait_ready()
    slow.open.clear()
    r = httpx.post(server.base + "/v1/trace", json={"text": ARTICLE})
    assert error_of(r) == (503, "timeout")
    slow.open.set()


def test_a_refresh_published_while_serving_is_used_by_the_next_request(
    serve: Callable[..., Server], index_dir: Path
) -> None:
    server = serve()
    server.wait_ready()
    article = "Drones struck the port of Odesa overnight, damaging two grain ships.\nWarga diminta tetap tenang."
    first = httpx.post(server.base + "/v1/trace", json={"text": article}).json()
    assert first["sentences"][0]["status"] == "no_source" and first["index"]["generation"] == 1
    add(index_dir, [LATER], HashEmbedder())  # what `trace index refresh` does in another process
    second = httpx.post(server.base + "/v1/trace", json={"text": article}).json()
    assert second["index"]["generation"] == 2
    assert second["sentences"][0]["status"] == "traced"
    assert second["sentences"][0]["matches"][0]["url"] == "https://c.example/port"
    assert httpx.get(server.base + "/readyz").json()["generation"] == 2


def test_url_tracing_refuses_private_addresses_unless_allowed(serve: Callable[..., Server]) -> None:
    site = Site()
    try:
        site.article(
            "/berita/1",
            "Tentara Korea Utara tiba di Kursk",
            ["North Korean troops arrived in Kursk region on Tuesday."],
        )
        server = serve()
        server.wait_ready()
        r = httpx.post(server.base + "/v1/trace", json={"url": site.url("/berita/1")})
        assert error_of(r) == (400, "bad_input") and "--allow-private-urls" in r.json()["error"]["message"]
        allowed = serve(allow_private_urls=True)
        allowed.wait_ready()
        report = httpx.post(allowed.base + "/v1/trace", json={"url": site.url("/berita/1")}).json()
        assert report["article"]["name"] == site.url("/berita/1")
        assert report["sentences"][1]["status"] == "traced"
    finally:
        site.close()


def test_the_page_traces_a_pasted_article_and_offers_downloads(serve: Callable[..., Server]) -> None:
    server = serve()
    server.wait_ready()
    page = httpx.get(server.base + "/")
    assert page.status_code == 200 and "<form" in page.text and 'name="text"' in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "<script" not in page.text and "http://" not in page.text.replace('placeholder="https://..."', "")
    hostile = ARTICLE + "\n<script>alert(1)</script> Sumber: <b>kantor</b>."
    r = httpx.post(server.base + "/", data={"text": hostile, "url": "", "before": "", "format": "html"})
    assert r.status_code == 200
    assert '<div class="row traced' in r.text and "<script>" not in r.text and "&lt;script&gt;" in r.text
    download = httpx.post(server.base + "/", data={"text": ARTICLE, "format": "json"})
    assert download.headers["content-disposition"] == 'attachment; filename="tracer-report.json"'
    jsonschema.validate(download.json(), SCHEMA)
    md = httpx.post(server.base + "/", data={"text": ARTICLE, "format": "markdown"})
    assert md.headers["content-disposition"].endswith('.md"') and md.text.startswith("###")
    bad = httpx.post(server.base + "/", data={"text": "", "url": "", "format": "html"})
    assert bad.status_code == 400 and "Error: give either" in bad.text and "<form" in bad.text
    # the report sits in the page as a fragment: one document, one <html>, <body> and <title>
    for tag in ("<html", "<body", "<title", "<!DOCTYPE"):
        assert r.text.count(tag) == 1, tag
    head = httpx.head(server.base + "/")
    assert head.status_code == 200 and head.headers["content-type"].startswith("text/html")


def test_api_errors_give_no_command_line_advice(serve: Callable[..., Server]) -> None:
    server = serve(max_body_bytes=3_000_000)
    server.wait_ready()
    r = httpx.post(server.base + "/v1/trace", json={"text": "Kata kata. " * 100_000}, timeout=30)  # 1.1 MB
    assert error_of(r) == (400, "bad_input") and "larger than the 1,000,000-byte limit" in r.json()["error"]["message"]
    assert "--max-bytes" not in r.text
    from tracer._errors import InputError

    assert str(InputError("m", cli_hint="pass --max-bytes N")) == "m; pass --max-bytes N"  # the CLI keeps its advice


def test_host_header_is_checked_and_no_redirect_names_it(serve: Callable[..., Server]) -> None:
    server = serve(allowed_hosts=("127.0.0.1", "localhost", "[::1]", "::1"))
    server.wait_ready()
    assert httpx.get(server.base + "/healthz").status_code == 200
    rebound = httpx.post(server.base + "/v1/trace", json={"text": ARTICLE}, headers={"Host": "attacker.example"})
    assert rebound.status_code == 400
    r = httpx.post(server.base + "/v1/trace/", json={"text": ARTICLE})
    assert r.status_code == 404 and "location" not in r.headers
    anywhere = serve()  # bound elsewhere behind a token: any Host, still no redirect
    anywhere.wait_ready()
    assert httpx.get(anywhere.base + "/healthz", headers={"Host": "tracer.newsroom.example"}).status_code == 200


def test_index_stats_after_the_index_is_deleted_is_a_clear_503(serve: Callable[..., Server], index_dir: Path) -> None:
    import shutil

    server = serve()
    server.wait_ready()
    assert httpx.get(server.base + "/v1/index").status_code == 200
    shutil.rmtree(index_dir)
    r = httpx.get(server.base + "/v1/index")
    assert error_of(r) == (503, "not_ready") and str(index_dir) in r.json()["error"]["message"]


def access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The access log's lines but those of ``wait_ready``'s probes: a probe's line is written once
    its response has gone out, so it may land after ``wait_ready`` returned."""
    lines = (r.getMessage() for r in caplog.records if r.name == "tracer.access")
    return [line for line in lines if not line.startswith("GET /readyz ")]


def test_one_access_line_per_request(serve: Callable[..., Server], caplog: pytest.LogCaptureFixture) -> None:
    server = serve()
    server.wait_ready()
    with caplog.at_level(logging.INFO, logger="tracer.access"):
        httpx.post(server.base + "/v1/trace", json={"text": ARTICLE})
        httpx.get(server.base + "/nowhere")
        deadline = time.monotonic() + 5  # the line is written once the response has gone out
        while len(access_lines(caplog)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    lines = access_lines(caplog)
    assert len(lines) == 2
    method, path, status, ms, sentences = lines[0].split()
    assert (method, path, status, sentences) == ("POST", "/v1/trace", "200", "sentences=2") and ms.endswith("ms")
    assert lines[1].startswith("GET /nowhere 404 ")


def test_a_path_cannot_forge_an_access_line(serve: Callable[..., Server], caplog: pytest.LogCaptureFixture) -> None:
    server = serve()
    server.wait_ready()
    with caplog.at_level(logging.INFO, logger="tracer.access"):
        httpx.get(server.base + "/x%0AGET%20/v1/trace%20200%201ms%0D%1b[31m")
        deadline = time.monotonic() + 5
        while not access_lines(caplog) and time.monotonic() < deadline:
            time.sleep(0.01)
    (line,) = access_lines(caplog)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert line.startswith("GET /x\\x0aGET /v1/trace 200 1ms\\x0d\\x1b[31m 404 ")


def test_no_cors_unless_configured(serve: Callable[..., Server]) -> None:
    plain = serve()
    origin = {"Origin": "https://cms.example"}
    assert "access-control-allow-origin" not in httpx.get(plain.base + "/healthz", headers=origin).headers
    cors = serve(cors_origins=("https://cms.example",))
    assert (
        httpx.get(cors.base + "/healthz", headers=origin).headers["access-control-allow-origin"]
        == "https://cms.example"
    )


def test_serve_refuses_a_public_address_without_a_token_and_a_missing_index(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(main, ["serve", "--host", "0.0.0.0", "--index", str(tmp_path)])
    assert r.exit_code == 2
    assert r.stderr == ("Error: --host 0.0.0.0 is not a loopback address: set a token (--token or TRACER_TOKEN) "
                        "so that only your newsroom can use the service\n")  # fmt: skip
    r = runner.invoke(main, ["serve", "--index", str(tmp_path / "none")])
    assert (r.exit_code, r.stderr) == (
        3,
        f"Error: no index at {tmp_path / 'none'}; build one with `trace index add --index DIR FILE...`\n",
    )
