"""`trace serve` as a newsroom runs it: the real command, the real model, the bundled example,
and the editors' page driven in headless Chromium (Debian's, through Playwright)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import EXAMPLE, ROOT

pytestmark = pytest.mark.slow
TRACE = Path(sys.executable).with_name("trace")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CREDIT_MISMATCH = "credits The Guardian, but the claim was found in Daily Express, not in The Guardian"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen[str], Path]]:
    home = tmp_path_factory.mktemp("serve-home")
    env = {k: v for k, v in os.environ.items() if k not in ("TRACER_INDEX", "TRACER_CONFIG", "TRACER_TOKEN")}
    env.update(XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"))
    port = free_port()
    log = home / "serve.log"
    cmd = [str(TRACE)] if TRACE.exists() else [sys.executable, "-m", "cli"]
    with log.open("w") as err:
        proc = subprocess.Popen([*cmd, "serve", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=err,
                                env=env, cwd=ROOT, text=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    try:
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(base + "/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield base, proc, log
    finally:
        proc.terminate()
        proc.wait(30)


def test_the_api_gives_the_command_line_verdicts(service: tuple[str, subprocess.Popen[str], Path]) -> None:
    base, _, log = service
    text = (EXAMPLE / "artikel.txt").read_text(encoding="utf-8")
    cmd = [str(TRACE)] if TRACE.exists() else [sys.executable, "-m", "cli"]
    env = {**os.environ, "TRACER_INDEX": json.loads(httpx.get(base + "/v1/index").text)["path"]}
    cli = json.loads(subprocess.run([*cmd, "-", "-q"], input=text, capture_output=True, text=True, env=env,
                                    cwd=ROOT, timeout=600).stdout)  # fmt: skip
    api = httpx.post(base + "/v1/trace", json={"text": text, "name": "<stdin>"}, timeout=60).json()
    assert [s["status"] for s in api["sentences"]] == [s["status"] for s in cli["sentences"]]
    assert [s["matches"][0]["url"] for s in api["sentences"]] == [s["matches"][0]["url"] for s in cli["sentences"]]
    assert sum(s["status"] == "traced" for s in api["sentences"]) >= 12
    # the access line is written after the response is sent: give the server a moment under load
    deadline = time.monotonic() + 10
    while "sentences=16" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "POST /v1/trace 200 " in log.read_text() and "sentences=16" in log.read_text()


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (Debian: apt-get install chromium)")
def test_an_editor_pastes_the_example_and_sees_the_report(service: tuple[str, subprocess.Popen[str], Path],
                                                          tmp_path: Path) -> None:  # fmt: skip
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extras")
    base, _, _ = service
    shots = Path(os.environ.get("TRACER_SCREENSHOTS", tmp_path))
    text = (EXAMPLE / "artikel.txt").read_text(encoding="utf-8")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for name, options in [("laptop", {"viewport": {"width": 1280, "height": 900}}),
                                  ("phone", {"viewport": {"width": 390, "height": 844}, "is_mobile": True,
                                             "device_scale_factor": 2})]:  # fmt: skip
                page = browser.new_page(**options)
                requests: list[str] = []
                page.on("request", lambda r, seen=requests: seen.append(r.url))
                page.goto(base + "/")
                page.fill("textarea[name=text]", text)
                page.click("button[value=html]")
                page.wait_for_selector(".row.traced", timeout=60_000)
                assert page.locator(".row.traced").count() >= 12
                assert page.locator(".row.mismatch", has_text=CREDIT_MISMATCH).count() == 1  # the Guardian credit
                assert (
                    page.locator("textarea[name=text]").input_value().startswith(text[:40])
                )  # the form keeps the text
                assert all(url.startswith(base) for url in requests)  # nothing loaded from elsewhere
                width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
                assert width[0] <= width[1], f"{name}: the page scrolls sideways ({width})"
                page.screenshot(path=str(shots / f"serve-{name}.png"), full_page=False)
                with page.expect_download() as download:
                    page.click("button[value=json]")
                report = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
                assert download.value.suggested_filename == "tracer-report.json"
                assert sum(s["status"] == "traced" for s in report["sentences"]) >= 12
                page.close()
        finally:
            browser.close()
