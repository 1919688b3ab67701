"""Atomic output: results are written to a temporary directory next to the destination and moved
into place only when everything succeeded, so a failed run leaves nothing half-written (docs/design.md §8)."""

from __future__ import annotations

import contextlib
import lzma
import os
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

import numpy as np

ARCHIVE_ERRORS: tuple[type[Exception], ...] = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, RuntimeError)
"""What reading a damaged ``.npz`` raises besides ``ValueError``: a bad directory, member header, CRC
or compressed stream; and, when a flipped byte lands in a member's flags, version or compression
method, ``RuntimeError`` (``zipfile`` takes the member for encrypted) or its subclass
``NotImplementedError`` (a zip version, compression method or flag it does not support). Every
reader of user ``.npz`` files turns these into one line naming the file."""
NPZ_LOAD_ERRORS: tuple[type[Exception], ...] = (ValueError, *ARCHIVE_ERRORS)
"""``ARCHIVE_ERRORS`` plus what ``np.load`` raises for a file that is no array file at all."""


@contextlib.contextmanager
def atomic_files(*destinations: str | os.PathLike[str]) -> Iterator[list[Path]]:
    """Yield temporary paths standing in for ``destinations``; on success each one that was written
    replaces its destination (a destination whose stand-in was not written is removed, so a stale
    sidecar never outlives the file it belonged to). On failure nothing at the destinations
    changes."""
    dests = [Path(d) for d in destinations]
    parent = dests[0].resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".qcc-tmp-", dir=parent))
    try:
        stand_ins = [tmp / d.name for d in dests]
        yield stand_ins
        for stand_in, dest in zip(stand_ins, dests):
            if stand_in.exists():
                os.replace(stand_in, dest)
            elif dest.exists():
                dest.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(destination: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``destination`` (a directory) on success."""
    dest = Path(destination)
    parent = dest.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-tmp-", dir=parent))
    try:
        yield tmp
        if dest.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}-old-", dir=parent))
            os.replace(dest, old / dest.name)
            os.replace(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def save_npz(file: str | os.PathLike[str] | IO[bytes], arrays: Mapping[str, np.ndarray]) -> None:
    """Write named arrays to an ``.npz``, without pickling (every reader loads with
    ``allow_pickle=False``). The one place qcc calls ``np.savez``: numpy's stubs let a ``**arrays``
    unpacking fill its ``allow_pickle`` flag, which naming the flag here rules out."""
    np.savez(file, allow_pickle=False, **arrays)
