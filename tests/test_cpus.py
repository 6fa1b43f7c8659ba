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


def test_a_test_worker_runs_numpys_blas_on_its_share_of_the_cpus() -> None:
    """tests/conftest.py: numpy loads before a worker sets its share, so the share reaches
    OpenBLAS through threadpoolctl; two spinning BLAS threads a worker doubled its CPU time."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.skip("only pytest-xdist workers split the CPUs (make test)")
    from threadpoolctl import threadpool_info

    blas = {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}
    assert blas == {int(os.environ["OMP_NUM_THREADS"])}
