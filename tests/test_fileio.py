"""qcc.fileio.save_npz: the one writer of .npz files reads back with allow_pickle=False, like every
reader in qcc."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qcc.fileio import save_npz


def test_save_npz_round_trips_named_arrays(tmp_path: Path) -> None:
    arrays = {"y": np.arange(6, dtype=np.int8).reshape(2, 3), "a b": np.array([0.5, -1.0], dtype=np.float32)}
    save_npz(tmp_path / "out.npz", arrays)
    with np.load(tmp_path / "out.npz", allow_pickle=False) as npz:
        assert sorted(npz.files) == ["a b", "y"]
        for name, array in arrays.items():
            assert npz[name].dtype == array.dtype
            assert np.array_equal(npz[name], array)


def test_save_npz_refuses_object_arrays(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="allow_pickle=False"):
        save_npz(tmp_path / "out.npz", {"y": np.array([{"k": 1}], dtype=object)})
