"""Where tracer keeps its data by default; environment variables let users and tests move it."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "tracer"


def default_index_dir() -> Path:
    """``TRACER_INDEX`` if set, else the OS user data directory (e.g. ~/.local/share/tracer/index)."""
    env = os.environ.get("TRACER_INDEX")
    return Path(env) if env else Path(platformdirs.user_data_dir(APP)) / "index"


def cache_dir() -> Path:
    """``TRACER_CACHE_DIR`` if set, else the OS user cache directory (converted models live here)."""
    env = os.environ.get("TRACER_CACHE_DIR")
    return Path(env) if env else Path(platformdirs.user_cache_dir(APP))


def resolve_index(index_dir: Path | None) -> tuple[Path, bool]:
    """The index path and whether it is the implicit default (which may be seeded with the example)."""
    if index_dir is not None:
        return index_dir.expanduser(), False
    return default_index_dir(), not os.environ.get("TRACER_INDEX")
