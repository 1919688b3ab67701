"""ActivationStore: arrays go to RAM while the held total fits the budget and to disk beyond it;
released RAM returns to the budget; the spill directory is gone after close, also after an error."""

from __future__ import annotations

import os

import numpy as np
import pytest

from qcc.ptq.activations import ActivationStore


def test_arrays_beyond_the_budget_are_memmaps_and_ram_is_given_back() -> None:
    with ActivationStore(budget_bytes=1000) as store:
        a = store.allocate("a", (100,), np.float64)  # 800 bytes: fits
        b = store.allocate("b", (100,), np.float64)  # would make 1600: spilled
        assert not isinstance(a, np.memmap) and isinstance(b, np.memmap)
        b[:] = np.arange(100)
        np.testing.assert_array_equal(store["b"], np.arange(100))
        assert (store.held_bytes, store.spilled_bytes) == (800, 800)
        store.release("a")
        assert store.held_bytes == 0 and "a" not in store
        c = store.allocate("c", (100,), np.float64)
        assert not isinstance(c, np.memmap) and store.peak_held_bytes == 800
        with pytest.raises(KeyError):
            store.allocate("c", (1,), np.float64)


def test_the_spill_directory_is_removed_even_after_an_error() -> None:
    with pytest.raises(RuntimeError):
        with ActivationStore(budget_bytes=0) as store:
            store.allocate("x", (10, 10), np.float32)[:] = 1
            directory = store.directory
            assert directory is not None and len(os.listdir(directory)) == 1
            raise RuntimeError("a pass failed half way")
    assert not os.path.exists(directory)
    assert len(store) == 0
