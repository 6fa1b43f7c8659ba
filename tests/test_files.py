"""The cache lock: processes that prepare the same cache entry together wait for one another."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tracer._files import one_at_a_time

WAITER = """
import sys, time
from pathlib import Path
from tracer._files import one_at_a_time
started = time.monotonic()
with one_at_a_time(Path(sys.argv[1]), lambda m: print(m, flush=True)):
    print(f"got it after {time.monotonic() - started:.1f} s", flush=True)
"""


def test_a_second_process_says_it_waits_and_goes_on_when_the_first_is_done(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "model"
    with one_at_a_time(target):
        waiter = subprocess.Popen([sys.executable, "-c", WAITER, str(target)], stdout=subprocess.PIPE, text=True)
        assert waiter.stdout is not None
        assert waiter.stdout.readline().strip() == f"waiting for another process that is preparing {target}"
        time.sleep(0.5)
        assert waiter.poll() is None  # still waiting while the lock is held
    out, _ = waiter.communicate(timeout=30)
    assert waiter.returncode == 0 and out.startswith("got it after ")
    assert float(out.split()[3]) >= 0.5


HOLDER = """
import sys, time
from pathlib import Path
from tracer._files import one_at_a_time
with one_at_a_time(Path(sys.argv[1])):
    print("holding", flush=True)
    time.sleep(60)
"""


def test_a_killed_holder_leaves_no_lock(tmp_path: Path) -> None:
    target = tmp_path / "model"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(target)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "holding"
    notices: list[str] = []
    waiter = subprocess.Popen([sys.executable, "-c", WAITER, str(target)], stdout=subprocess.PIPE, text=True)
    assert waiter.stdout is not None
    assert waiter.stdout.readline().startswith("waiting for another process")
    holder.kill()  # kill -9 while holding: the kernel drops the lock with the process
    holder.wait(10)
    out, _ = waiter.communicate(timeout=30)
    assert waiter.returncode == 0 and out.startswith("got it after ")
    with one_at_a_time(target, notices.append):
        pass
    assert notices == []
