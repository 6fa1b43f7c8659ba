"""`trace serve` under load: the real command, the real model, the bundled example article
(16 sentences, lines shuffled per request) sent by 1, 4 and 16 concurrent clients for --seconds each, against the example
index and against one grown to ~100k units; one `trace index add` publishes a new generation
during the 4-client run. The repeated article finds its candidates' word pieces kept from the
first request on (the server's --cache-mb); `--cache-mb 0` measures articles that share no original.

Reports articles/s, p50/p95/p99 latency, answers by status, and the server's RSS at the
start and end of each run.

    python benchmarks/serve_load.py [--seconds 60] [--clients 1,4,16] [--units 100000] [--cache-mb 64]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TRACE = Path(sys.executable).with_name("trace")
ARTICLE = (ROOT / "tracer" / "example" / "artikel.txt").read_text(encoding="utf-8")


def variant(rng: random.Random) -> str:
    """The example article with its lines shuffled: the same work, but no two requests alike."""
    lines = [line for line in ARTICLE.splitlines() if line.strip()]
    rng.shuffle(lines)
    return "\n".join(lines)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def grow(index_dir: Path, units: int) -> None:
    """Add synthetic documents (10 units each) whose vectors evenly mix two of the example's
    passage vectors with noise: the shape of real embeddings, near no real claim."""
    import numpy as np

    import index as ix
    from index._store import NewDocument, NewUnit
    from tracer import SourceDoc

    rng = np.random.default_rng(0)
    with ix.IndexStore.open(index_dir, writable=True) as store, store.write_lock():
        real = store._vectors()[1]
        n = 0
        while store.describe()["units"] < units:  # type: ignore[operator]
            batch = []
            for _ in range(1_000):
                a, b = real[rng.integers(0, len(real), 10)], real[rng.integers(0, len(real), 10)]
                w = rng.uniform(0.4, 0.6, (10, 1)).astype(np.float32)
                v = w * a + (1 - w) * b + rng.normal(0, 0.02, a.shape).astype(np.float32)
                v /= np.linalg.norm(v, axis=1, keepdims=True)
                url = f"https://synthetic.example/{n}"
                n += 1
                doc = SourceDoc(url=url, outlet="Synthetic", lang="en", title="synthetic", published=None)
                batch.append(NewDocument(doc, "synthetic", hashlib.sha256(url.encode()).hexdigest(),
                                         [NewUnit(k, k, 0, 1, "synthetic", v[k]) for k in range(10)]))  # fmt: skip
            store.write_batch(batch)
        store.publish()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(index_dir: Path, env: dict[str, str], log: Path, cache_mb: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("w") as err:
        proc = subprocess.Popen([str(TRACE), "serve", "--index", str(index_dir), "--port", str(port), "-q",
                                 "--cache-mb", str(cache_mb)], stdout=subprocess.DEVNULL, stderr=err, env=env)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {log.read_text()}")
        try:
            if httpx.get(base + "/readyz").status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("server not ready in 600 s")
        time.sleep(0.2)


def run(base: str, clients: int, seconds: float, refresh: Path | None, env: dict[str, str]) -> dict[str, object]:
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    refresh_window: list[float] = []

    def client(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(timeout=60) as http:
            while time.monotonic() < stop:
                text = variant(rng)
                t = time.perf_counter()
                try:
                    r = http.post(base + "/v1/trace", json={"text": text, "name": "artikel.txt"})
                    status = str(r.status_code)
                    if r.status_code == 503:
                        status = f"503 {r.json()['error']['code']}"
                        time.sleep(float(r.headers.get("retry-after", "1")) / 4)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                with lock:
                    statuses[status] += 1
                    if status == "200":
                        latencies.append(time.perf_counter() - t)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    begin = time.monotonic()
    for t in threads:
        t.start()
    if refresh is not None:
        time.sleep(seconds / 3)
        before = dict(statuses)
        t = time.monotonic()
        subprocess.run([str(TRACE), "index", "add", "--index", str(refresh.parent / "index"), str(refresh), "-q"],
                       check=True, env=env)  # fmt: skip
        refresh_window = [t - begin, time.monotonic() - begin]
        during = {k: v - before.get(k, 0) for k, v in statuses.items()}
    for t in threads:
        t.join()
    elapsed = time.monotonic() - begin
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    out: dict[str, object] = {
        "clients": clients,
        "articles_per_s": round(len(latencies) / elapsed, 2),
        "p50_s": round(q[49], 3),
        "p95_s": round(q[94], 3),
        "p99_s": round(q[98], 3),
        "answers": dict(statuses),
    }
    if refresh_window:
        out["refresh"] = {"from_s": round(refresh_window[0], 1), "to_s": round(refresh_window[1], 1),
                          "answers_meanwhile": during}  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--units", type=int, default=100_000, help="size of the grown index (0: example only)")
    parser.add_argument("--skip-example", action="store_true", help="measure the grown index only")
    parser.add_argument(
        "--cache-mb",
        type=int,
        default=64,
        help="the server's --cache-mb; 0 encodes every article's candidates anew, as if no two "
        "articles shared an original (the repeated article otherwise finds them all kept)",
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tracer-serve-load-"))
    env = {k: v for k, v in os.environ.items() if k not in ("TRACER_INDEX", "TRACER_CONFIG", "TRACER_TOKEN")}
    env.update(XDG_DATA_HOME=str(tmp / "data"))
    # the example index, seeded by a first run
    subprocess.run([str(TRACE), str(ROOT / "tracer" / "example" / "artikel.txt"), "-q"], check=True, env=env,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    example = tmp / "data" / "tracer" / "index"
    indexes = [] if args.skip_example and args.units else [("example", example)]
    if args.units:
        grown = tmp / "grown" / "index"
        shutil.copytree(example, grown)
        t = time.perf_counter()
        grow(grown, args.units)
        print(f"grew a copy of the example index to {args.units:,} units in {time.perf_counter() - t:.0f} s",
              file=sys.stderr)  # fmt: skip
        indexes.append((f"~{args.units // 1000}k units", grown))
    from tracer.model._onnx import query_precision

    precision = query_precision()  # the server inherits $TRACER_PRECISION
    print(
        f"machine: {os.cpu_count()} CPU cores; {args.seconds:g} s per run; article: 16 sentences; "
        f"word-piece cache {args.cache_mb} MB; articles encoded in {precision}"
    )
    for label, index_dir in indexes:
        extra = index_dir.parent / "refresh.jsonl"
        extra.write_text(json.dumps({"url": f"https://refresh.example/{index_dir.parent.name}", "outlet": "Reuters", "lang": "en",
                                     "title": "refresh", "published": "2025-07-26",
                                     "text": "A refresh adds this sentence while the service is under load."}) + "\n")  # fmt: skip
        proc, base = start_server(index_dir, env, tmp / f"serve-{label.split()[0]}.log", args.cache_mb)
        try:
            generation = httpx.get(base + "/readyz").json()["generation"]
            stats = httpx.get(base + "/v1/index").json()
            print(f"\nindex: {label} ({stats['units']:,} units, {stats['vector_index']}), generation {generation}")
            print(f"server RSS at ready: {rss_mb(proc.pid):.0f} MB")
            for clients in (int(c) for c in args.clients.split(",")):
                rss0 = rss_mb(proc.pid)
                result = run(base, clients, args.seconds, extra if clients == 4 else None, env)
                result["rss_mb"] = [round(rss0), round(rss_mb(proc.pid))]
                print(json.dumps(result))
            print(f"generation after the run: {httpx.get(base + '/readyz').json()['generation']}")
        finally:
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main()
