"""Run by `make smoke-install` with a fresh venv's Python, where only the built wheel is
installed: the README's pip route, end to end. Not collected by pytest (it needs that venv)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import tracer

TRACE = Path(sys.executable).with_name("trace")


def run(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run([str(TRACE), *args], capture_output=True, text=True, env=env, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"smoke-install: trace {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done.stdout


def main() -> None:
    import os

    with tempfile.TemporaryDirectory(prefix="tracer-smoke-") as tmp:
        env = {**os.environ, "XDG_DATA_HOME": f"{tmp}/data"}
        env.pop("TRACER_INDEX", None)
        example = Path(tracer.__file__).parent / "example" / "artikel.txt"
        report = json.loads(run(str(example), "-q", env=env))
        traced = sum(s["status"] == "traced" for s in report["sentences"])
        assert traced >= 12, f"only {traced} sentences traced"
        print(f"smoke-install: the example traced, {traced} of {len(report['sentences'])} sentences")
        page = Path(tmp, "short.html")  # too short for trafilatura's main extractor: its fallback runs
        page.write_text("<html><head><title>Short</title></head><body><p>Troops arrived in Kursk on Tuesday, "
                        "officials said.</p></body></html>", encoding="utf-8")  # fmt: skip
        run("index", "add", "--index", f"{tmp}/idx", str(page), "--url", "https://x.example/a", "--outlet", "X",
            "--lang", "en", "-q", env=env)  # fmt: skip
        stats = json.loads(run("index", "stats", "--index", f"{tmp}/idx", "--format", "json", env=env))
        assert stats["documents"] == 1, stats
        print("smoke-install: a short page extracted and indexed")


if __name__ == "__main__":
    main()
