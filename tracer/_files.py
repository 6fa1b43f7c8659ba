"""File checks shared by the model cache and the index."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path


def sha256_file(path: Path) -> str:
    """The file's SHA-256, read in 1 MB pieces (model files and vector files run to hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def one_at_a_time(target: Path, waiting: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock beside ``target`` (``<target>.lock``) while a cache entry is made.

    Processes that start together on a fresh machine (a service's workers, a cron job beside an
    editor's run, test workers) would each convert the model or export it: tens of seconds of CPU and
    hundreds of MB each, for one result. The second one waits instead, then finds the entry
    made. The lock goes with the process, so a killed holder never leaves one behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target.with_name(target.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting is not None:
                waiting(f"waiting for another process that is preparing {target}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
