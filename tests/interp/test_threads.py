"""BLAS threads of the interpreter's long runs: QCC_BLAS_THREADS when set (a bad value is a
one-line error), else the idle cores; the limit holds inside the context and is lifted after."""

from __future__ import annotations

import os

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from qcc.errors import InputError
from qcc.interp.threads import ENV, blas_threads, limited_blas_threads


def _blas_threads_now() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_the_environment_sets_the_thread_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "3")
    assert blas_threads() == 3
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(ENV, bad)
        with pytest.raises(InputError, match=f"{ENV}="):
            blas_threads()


def test_by_default_the_idle_cores_at_least_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    cores = len(os.sched_getaffinity(0))
    monkeypatch.setattr(os, "getloadavg", lambda: (cores + 5.0, 0.0, 0.0))
    assert blas_threads() == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (0.2, 0.0, 0.0))
    assert blas_threads() == cores
    assert blas_threads(reserved=1) == max(1, cores - 1)  # a compiler process started alongside


def test_the_limit_holds_inside_the_context_only(monkeypatch: pytest.MonkeyPatch) -> None:
    np.ones((2, 2)) @ np.ones((2, 2))  # BLAS loaded
    before = _blas_threads_now()
    monkeypatch.setenv(ENV, "1")
    with limited_blas_threads() as threads:
        assert threads == 1
        assert _blas_threads_now() and all(n == 1 for n in _blas_threads_now())
    assert _blas_threads_now() == before
