"""Activations of every calibration sample, held in memory up to a budget and on disk beyond it.

The layer walk (qcc.ptq.walk) keeps, for each value a later node still needs, that value for all
calibration samples at once. On a 416x416 detector with 32 samples one early feature map is
~180 MB per path, and a residual or CSP block keeps several alive together, so a fixed budget
decides what stays in RAM: an array that would push the held total past it is created as a numpy
memmap in a private temporary directory instead. The directory is removed when the store closes,
whatever happened in between.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Hashable
from types import TracebackType

import numpy as np

MIB = 1 << 20
DEFAULT_MEMORY_MB = 1024


class ActivationStore:
    """Arrays keyed by anything hashable; ``allocate`` decides RAM or disk, ``release`` frees.
    Use as a context manager so that spilled files are always deleted."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = max(int(budget_bytes), 0)
        self.held_bytes = 0
        self.peak_held_bytes = 0
        self.spilled_bytes = 0
        self._arrays: dict[Hashable, np.ndarray] = {}
        self._in_memory: dict[Hashable, int] = {}
        self._files: dict[Hashable, str] = {}
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._spill_count = 0

    def __enter__(self) -> ActivationStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()

    @property
    def directory(self) -> str | None:
        """The spill directory, if anything was spilled (None after close)."""
        return self._tempdir.name if self._tempdir is not None else None

    def allocate(self, key: Hashable, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A new uninitialized array for ``key``: in RAM while the held total stays within the
        budget, else a memmap on disk."""
        if key in self._arrays:
            raise KeyError(f"activation {key!r} is already stored")
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        if self.held_bytes + nbytes <= self.budget_bytes:
            array = np.empty(shape, dtype)
            self._in_memory[key] = nbytes
            self.held_bytes += nbytes
            self.peak_held_bytes = max(self.peak_held_bytes, self.held_bytes)
        else:
            self._spill_count += 1
            path = os.path.join(self._spill_dir(), f"activation{self._spill_count}.npy")
            array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
            self._files[key] = path
            self.spilled_bytes += nbytes
        self._arrays[key] = array
        return array

    def __getitem__(self, key: Hashable) -> np.ndarray:
        return self._arrays[key]

    def __len__(self) -> int:
        return len(self._arrays)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._arrays

    def release(self, key: Hashable) -> None:
        """Forget ``key`` (its RAM returns to the budget, its file is deleted)."""
        array = self._arrays.pop(key, None)
        if array is None:
            return
        self.held_bytes -= self._in_memory.pop(key, 0)
        path = self._files.pop(key, None)
        del array  # a view still held elsewhere keeps its mapping alive; unlinking is safe on POSIX
        if path is not None:
            with contextlib.suppress(OSError):  # still mapped where unlinking is forbidden: close() removes the directory
                os.remove(path)

    def close(self) -> None:
        for key in list(self._arrays):
            self.release(key)
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def _spill_dir(self) -> str:
        if self._tempdir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="qcc-ptq-", ignore_cleanup_errors=True)
        return self._tempdir.name

    def report(self) -> str:
        """One line for the pass log: peak RAM held and bytes spilled."""
        return f"activations held in memory at most {self.peak_held_bytes / MIB:.1f} MiB, spilled {self.spilled_bytes / MIB:.1f} MiB to disk"
