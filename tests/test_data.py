"""Model inputs read from user files (qcc/data.py): what a data set must hold before anything runs.

Each refusal is one InputError naming the file; the bad cases come from the long fuzz run (issue 12),
where they ended as an internal error in the CLI's accuracy report instead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from qcc.data import load_feeds, load_labels
from qcc.errors import InputError
from qcc.ir.core import Graph
from qcc.model_io import load_graph
from tests.damaged_zip import DAMAGES, damage_first_member


@pytest.fixture
def graph(tmp_path: Path) -> Graph:
    """y = relu(x) for x: f32[1,4], a batch-1 model that takes N samples stacked on axis 0."""
    model = helper.make_model(
        helper.make_graph(
            [helper.make_node("Relu", ["x"], ["y"])], "batch1",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        ),
        opset_imports=[helper.make_opsetid("", 13)],
    )
    onnx.save(model, tmp_path / "m.onnx")
    return load_graph(tmp_path / "m.onnx")


def _npz(tmp_path: Path, **arrays: np.ndarray) -> Path:
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    return path


def samples(n: int) -> np.ndarray:
    return np.arange(4 * n, dtype=np.float32).reshape(n, 4)


def test_labels_come_back_flat_one_per_sample(graph: Graph, tmp_path: Path) -> None:
    feeds, labels = load_feeds(_npz(tmp_path, x=samples(3), label=np.array([[2], [0], [1]])), graph)
    assert list(feeds) == ["x"] and feeds["x"].shape == (3, 4)
    assert labels is not None and labels.tolist() == [2, 0, 1]


def test_one_label_for_one_sample_may_be_a_scalar(graph: Graph, tmp_path: Path) -> None:
    _, labels = load_feeds(_npz(tmp_path, x=samples(1), labels=np.array(3)), graph)
    assert labels is not None and labels.tolist() == [3]


@pytest.mark.parametrize(
    ("n", "labels", "message"),
    [
        (6, np.zeros((4, 1, 4, 4), np.float32), "'label' holds 64 values for 6 samples"),
        (1, np.zeros((2, 1, 4, 4), np.float32), "'label' holds 32 values for 1 sample"),
        (3, np.array([1, 2]), "'label' holds 2 values for 3 samples"),
        (1, np.zeros((0,), np.int64), "'label' holds 0 values for 1 sample"),
    ],
)
def test_label_count_must_match_the_samples(graph: Graph, tmp_path: Path, n: int, labels: np.ndarray, message: str) -> None:
    path = _npz(tmp_path, x=samples(n), label=labels)
    with pytest.raises(InputError, match=message) as info:
        load_feeds(path, graph)
    assert str(path) in str(info.value) and len(str(info.value).splitlines()) == 1


def test_eval_and_compress_read_labels_with_the_same_check(graph: Graph, tmp_path: Path) -> None:
    """`qcc eval` and `compress` take labels through load_labels: one rule, the same refusal as `run`."""
    assert load_labels(_npz(tmp_path, x=samples(3), label=np.array([2, 0, 1])), graph).tolist() == [2, 0, 1]  # type: ignore[union-attr]
    with pytest.raises(InputError, match="'label' holds 2 values for 3 samples"):
        load_labels(_npz(tmp_path, x=samples(3), label=np.array([1, 2])), graph)
    assert load_labels(_npz(tmp_path, x=samples(3)), graph) is None


def test_labels_must_be_class_numbers(graph: Graph, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="'labels' holds <U3 values; labels are class numbers"):
        load_feeds(_npz(tmp_path, x=samples(2), labels=np.array(["cat", "dog"])), graph)


@pytest.mark.parametrize("with_labels", [False, True])
def test_no_samples_is_an_error(graph: Graph, tmp_path: Path, with_labels: bool) -> None:
    arrays = {"x": samples(0)} | ({"label": np.zeros(0, np.int64)} if with_labels else {})
    with pytest.raises(InputError, match="holds no samples"):
        load_feeds(_npz(tmp_path, **arrays), graph)


def test_no_samples_in_an_npy_is_an_error(graph: Graph, tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", samples(0))
    with pytest.raises(InputError, match="x.npy' holds no samples"):
        load_feeds(tmp_path / "x.npy", graph)


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_member_zipfile_cannot_open_is_a_one_line_error(graph: Graph, tmp_path: Path, damage: str) -> None:
    # found by the long fuzz run: NotImplementedError / RuntimeError from zipfile escaped as internal errors
    path = _npz(tmp_path, x=samples(2))
    damage_first_member(path, damage)
    with pytest.raises(InputError, match="cannot read '.*d.npz'"):
        load_feeds(path, graph)
