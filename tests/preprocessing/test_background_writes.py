"""Background cache writes: order, waiting, and errors that surface."""

from __future__ import annotations

import threading
import time

import pytest

from mtfas.preprocessing.worker import BackgroundWrites


def test_writes_run_in_order_off_the_calling_thread_and_close_waits():
    done, threads = [], set()

    def write(i):
        def run():
            time.sleep(0.01)
            threads.add(threading.get_ident())
            done.append(i)

        return run

    with BackgroundWrites() as writes:
        for i in range(4):
            writes.submit(write(i))
            assert len(done) >= i  # at most one write is still waiting
    assert done == [0, 1, 2, 3]
    assert threading.get_ident() not in threads


def test_a_failed_write_is_raised_by_the_next_submit_or_by_close():
    def fail():
        raise OSError("disk full")

    writes = BackgroundWrites()
    writes.submit(fail)
    with pytest.raises(OSError, match="disk full"):
        writes.submit(lambda: None)
    writes.close()
    with pytest.raises(OSError, match="disk full"), BackgroundWrites() as other:
        other.submit(fail)
