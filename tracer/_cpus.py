"""How many CPUs this process may run on, and how many threads its encoder should use."""

from __future__ import annotations

import os


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity mask where the system has one (taskset,
    a container's cpuset, a test worker pinned to its share), else every CPU. Sizing threads by
    ``os.cpu_count()`` alone oversubscribes a process confined to fewer."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def encoder_threads() -> int:
    """Threads for the encoder: ``usable_cpus()``, or fewer where ``OMP_NUM_THREADS`` asks
    (the convention torch follows too; Ray's embedding actors set it to their share)."""
    cpus = usable_cpus()
    try:
        asked = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return cpus
    return max(1, min(cpus, asked))
