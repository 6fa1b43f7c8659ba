"""Thread sizing: the CPUs a process may use, and OMP_NUM_THREADS where it asks for fewer."""

from __future__ import annotations

import os

import pytest

from tracer._cpus import encoder_threads, usable_cpus


def test_usable_cpus_follow_the_affinity_mask() -> None:
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no CPU affinity on this system")
    assert usable_cpus() == len(os.sched_getaffinity(0)) <= (os.cpu_count() or 1)


@pytest.mark.parametrize(("asked", "expected"), [(None, "all"), ("1", 1), ("999", "all"), ("lots", "all"), ("0", 1)])
def test_encoder_threads_take_omp_num_threads_when_it_asks_for_fewer(asked, expected, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    if asked is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", asked)
    assert encoder_threads() == (usable_cpus() if expected == "all" else expected)
