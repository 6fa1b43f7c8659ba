"""Shared fixtures: a deterministic stand-in embedder for fast tests, the real default model for slow ones,
and isolated user directories so no test touches the real index or config."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest


def _share_threads() -> None:
    """Under pytest-xdist each worker, and the `trace` processes it starts, runs its encoder on
    its share of the CPUs (``OMP_NUM_THREADS``, which tracer's encoders, torch and faiss follow):
    two workers each running the encoder on every core slowed the suite (a torch test took 4x
    as long beside an ONNX one). `make test` starts one worker more than there are CPUs, one
    thread each: the extra one fills the time others wait on servers and subprocesses. Workers
    are not pinned to CPUs: a pinned worker's Ray cluster inherited its one CPU (the Ray tests
    ran 2-3x as long). numpy was loaded before the variable was set (this module imports it, and
    so does tracer), so its BLAS gets the same share through threadpoolctl: two OpenBLAS threads
    spin through every small product, which doubled a worker's CPU time for no gain (20,000
    products of 40x384 by 384x200: 3.3 s of CPU in 1.7 s, against 1.6 s in 1.6 s on one thread)."""
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not os.environ.get("PYTEST_XDIST_WORKER", "").startswith("gw") or count < 2:
        return
    from threadpoolctl import threadpool_limits

    from tracer._cpus import usable_cpus  # torch and faiss read the variable when they load

    share = max(1, usable_cpus() // count)
    os.environ["OMP_NUM_THREADS"] = str(share)
    threadpool_limits(share, user_api="blas")


_share_threads()

from tracer import ModelInfo  # noqa: E402

# Tests talk to nothing but loopback: model hubs are never asked, even by code paths that would.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "tracer" / "example"
SHARED_DATA = ROOT.parent / "shared" / "data"
NTREX = SHARED_DATA / "ntrex" / "ntrex-dev.tsv"


class HashEmbedder:
    """Bag-of-words vectors from hashed tokens: texts sharing words are close. No model, no randomness."""

    def __init__(self, dim: int = 64, name: str = "hash-test") -> None:
        self._info = ModelInfo(
            name=name, source="test", dim=dim, query_prompt="", passage_prompt="", max_seq_length=128
        )
        self.calls: list[tuple[str, int]] = []

    @property
    def info(self) -> ModelInfo:
        return self._info

    @property
    def precision(self) -> str:
        return "float32"

    def embed(self, texts: Sequence[str], *, role: str, show_progress: bool = False) -> np.ndarray:
        self.calls.append((role, len(texts)))
        out = np.zeros((len(texts), self._info.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in re.findall(r"\w+", text.lower()):
                h = hashlib.sha256(token.encode()).digest()
                out[row, h[0] % self._info.dim] += 1.0 if h[1] % 2 else -1.0
            norm = np.linalg.norm(out[row])
            if norm == 0:
                out[row, 0], norm = 1.0, 1.0
            out[row] /= norm
        return out


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Index, data and config directories of every test live under tmp; the model cache is shared
    (converting the default model once per machine is the point of the cache)."""
    home = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.delenv("TRACER_INDEX", raising=False)
    monkeypatch.delenv("TRACER_CONFIG", raising=False)


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """click's CliRunner with every model load answered by one stand-in embedder."""
    from click.testing import CliRunner

    import tracer
    from tracer.model import _embed, _onnx

    fake = HashEmbedder()
    monkeypatch.setattr(tracer, "load_embedder", lambda name=None, **kw: fake)
    monkeypatch.setattr(_embed, "load_embedder", lambda name=None, **kw: fake)
    monkeypatch.setattr(_onnx, "exported_embedder", lambda *a, **kw: None)  # no real model through ONNX either
    return CliRunner()


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests may only talk to 127.0.0.1: resolving any other host name fails loudly."""
    import socket

    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host not in ("127.0.0.1", "localhost", "::1", None):
            raise socket.gaierror(socket.EAI_NONAME, f"tests may not resolve {host!r} (loopback only)")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(scope="session")
def real_embedder():
    """The offline default model (prepared into the user cache on first use)."""
    from tracer import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def traced_embedder(request: pytest.FixtureRequest):
    """The default model as `trace` encodes articles on this machine: its ONNX export in bf16
    through OpenVINO where the CPU multiplies in bf16, else in float32 (torch's numbers). The
    NTREX protocol's figures came out identical to four places in both (2026-12-08), bf16 in
    105 s instead of 170 s. torch loads only to make the export on a fresh machine."""
    from tracer import DEFAULT_MODEL
    from tracer.model._onnx import ensure_export, traced_export

    found = traced_export(DEFAULT_MODEL)
    if found is None:  # the worker's torch model, loaded once for every test that asks for it
        ensure_export(request.getfixturevalue("real_embedder"))
        found = traced_export(DEFAULT_MODEL)
    assert found is not None
    return found


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist, the tests that run the real model go first (their order kept), then
    the heavy ones, then the rest: a minute-long test started last would leave one worker idle
    while the other finishes it."""
    if getattr(config.option, "numprocesses", None):
        rank = {"slow": 0, "heavy": 1}
        items.sort(key=lambda item: min((rank[m.name] for m in item.iter_markers() if m.name in rank), default=2))
