"""How many BLAS threads the float interpreter's matrix products may use.

Why: numpy's OpenBLAS starts one thread per core and its threads spin while they wait for work.
When the cores are already busy (a shared machine, a CI runner, a parallel build), those threads
fight the other processes and each other: on a 2-core machine at load 2, calibrating a 416x416
detector took 14 s with OpenBLAS's 2 threads and 2 s with 1 (docs/benchmarks.md, "Calibration
speed"). So the interpreter's long runs (calibration, the PTQ layer walk) use only the cores that
are idle by the 1-minute load average, at least one; ``QCC_BLAS_THREADS`` sets the number
explicitly. The limit needs threadpoolctl; without it BLAS keeps its own setting.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator

from qcc.errors import InputError

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # optional: the limit is an optimization, never needed for correct results
    threadpool_limits = None

ENV = "QCC_BLAS_THREADS"


def blas_threads(reserved: int = 0) -> int:
    """``QCC_BLAS_THREADS`` if set, else the cores not already busy (at least 1); ``reserved``
    cores are kept free for work this process starts alongside (compiler processes), which the
    load average does not show yet."""
    text = os.environ.get(ENV, "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            raise InputError(f"{ENV}={text!r}: expected a whole number of threads >= 1")
        return int(text)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        busy = os.getloadavg()[0]
    except OSError:  # no load average on this platform
        return cores
    return max(1, cores - math.floor(busy) - reserved)


@contextlib.contextmanager
def limited_blas_threads(reserved: int = 0) -> Iterator[int]:
    """Run the body with BLAS limited to ``blas_threads(reserved)`` threads; yields that number (0
    when threadpoolctl is not installed and BLAS keeps its own setting)."""
    if threadpool_limits is None:
        yield 0
        return
    threads = blas_threads(reserved)
    with threadpool_limits(limits=threads, user_api="blas"):
        yield threads
