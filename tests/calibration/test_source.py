"""Calibration data: the three sources stream the same samples, bad data is a one-line error naming
the input and sample, and memory stays flat however many samples there are."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qcc.calibration.source import CalibrationSet
from qcc.errors import InputError
from qcc.ir import DType, Graph, TensorType
from tests.damaged_zip import DAMAGES, damage_first_member


def graph_with_input(shape=(1, 2, 3), name: str = "x") -> Graph:
    g = Graph("g")
    x = g.add_input(name, TensorType(DType.F32, shape))
    g.outputs = [g.add_node("relu", [x], names="y").result]
    return g


def test_npz_folder_and_iterable_stream_the_same_samples(tmp_path: Path) -> None:
    g = graph_with_input()
    data = np.random.default_rng(0).normal(size=(5, 2, 3)).astype(np.float32)  # 5 samples of [1, 2, 3]
    np.savez(tmp_path / "c.npz", x=data)
    (tmp_path / "folder").mkdir()
    np.save(tmp_path / "folder" / "a.npy", data[:2])  # a stack of two
    for i in range(2, 5):
        np.save(tmp_path / "folder" / f"b{i}.npy", data[i][None])  # single samples
    sources = [tmp_path / "c.npz", tmp_path / "folder", [{"x": d[None]} for d in data]]
    for source in sources:
        cs = CalibrationSet(g, source)
        assert cs.count() == 5
        got = np.concatenate([s["x"] for s in cs])
        assert np.array_equal(got, data), source


def test_limit_takes_the_first_samples(tmp_path: Path) -> None:
    g = graph_with_input()
    np.savez(tmp_path / "c.npz", x=np.zeros((7, 2, 3), np.float32))
    assert sum(1 for _ in CalibrationSet(g, tmp_path / "c.npz", limit=3)) == 3


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x": np.zeros((4, 2, 4), np.float32)}, "array 'x' has shape [4, 2, 4]; input 'x' needs [1, 2, 3]"),
        ({"x": np.zeros((4, 2, 3), np.float64)}, "calibration sample 0, input 'x': expected element type f32, got float64"),
        ({"image": np.zeros((4, 2, 3), np.float32)}, "array 'image' that is not a model input (inputs: x)"),
        ({"x": np.zeros((0, 2, 3), np.float32)}, "holds no samples"),
    ],
)
def test_bad_npz_is_reported(tmp_path: Path, arrays, message) -> None:
    np.savez(tmp_path / "c.npz", **arrays)
    with pytest.raises(InputError, match=_escape(message)):
        list(CalibrationSet(graph_with_input(), tmp_path / "c.npz"))


def test_nan_and_inf_are_reported_with_the_sample_index(tmp_path: Path) -> None:
    data = np.zeros((6, 2, 3), np.float32)
    data[4, 1, 2] = np.nan
    np.savez(tmp_path / "c.npz", x=data)
    with pytest.raises(InputError, match="calibration sample 4, input 'x' contains NaN"):
        list(CalibrationSet(graph_with_input(), tmp_path / "c.npz"))
    data[4, 1, 2] = np.inf
    with pytest.raises(InputError, match="contains Inf"):
        list(CalibrationSet(graph_with_input(), [{"x": d[None]} for d in data]))


def test_missing_file_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        list(CalibrationSet(graph_with_input(), tmp_path / "nope.npz"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no .npy files"):
        list(CalibrationSet(graph_with_input(), tmp_path / "empty"))


def _escape(text: str) -> str:
    import re

    return re.escape(text)


# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child would report the parent's peak.
PEAK_RSS = """
import json, sys
from qcc import PassContext, run_pipeline, parse
g = parse(open(sys.argv[1]).read())
run_pipeline(g, "quant-scheme{method=entropy},calibrate", PassContext(calibration=sys.argv[2]))
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps(int(hwm.split()[1])))
"""


def test_calibration_memory_is_flat_in_the_number_of_samples(tmp_path: Path) -> None:
    """Peak RSS with 10x the samples stays within 25% (the data set itself is 10x larger: 24 MB vs
    240 MB)."""
    g = "graph @g(%x: f32[1,3,64,64]) -> (%y: f32[1,3,64,64]) {\n  %y = relu(%x) : f32[1,3,64,64]\n  return %y\n}\n"
    (tmp_path / "g.qir").write_text(g)
    rng = np.random.default_rng(0)
    peaks = []
    for n in (500, 5000):
        path = tmp_path / f"c{n}.npz"
        np.savez(path, x=np.broadcast_to(rng.normal(size=(1, 3, 64, 64)).astype(np.float32), (n, 3, 64, 64)))
        out = subprocess.run([sys.executable, "-c", PEAK_RSS, str(tmp_path / "g.qir"), str(path)], capture_output=True, text=True, check=True)
        peaks.append(json.loads(out.stdout))
        path.unlink()
    assert peaks[1] < 1.25 * peaks[0], peaks


@pytest.mark.parametrize("damage", ["member header", "member data"])
def test_a_damaged_npz_member_is_a_one_line_input_error(tmp_path: Path, damage: str) -> None:
    # found by tests/fuzz: the zip directory reads fine, the member does not (BadZipFile escaped)
    path = tmp_path / "c.npz"
    np.savez_compressed(path, x=np.arange(60, dtype=np.float32).reshape(10, 1, 2, 3))
    data = bytearray(path.read_bytes())
    if damage == "member header":
        data[0:4] = b"XXXX"  # the local file header's magic; the central directory still points at it
    else:
        data[60:80] = bytes(20)  # inside the deflate stream
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="cannot read calibration data"):
        list(CalibrationSet(graph_with_input(), path))


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_member_zipfile_cannot_open_is_a_one_line_input_error(tmp_path: Path, damage: str) -> None:
    # found by the long fuzz run: a flipped flag/version/method byte raised NotImplementedError or RuntimeError
    path = tmp_path / "c.npz"
    np.savez(path, x=np.arange(60, dtype=np.float32).reshape(10, 1, 2, 3))
    damage_first_member(path, damage)
    with pytest.raises(InputError, match="cannot read calibration data"):
        list(CalibrationSet(graph_with_input(), path))
