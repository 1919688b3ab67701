"""Every spelling of a dynamic input dim (Paddle's -1, a 0, a dim_param, no value at all) is
dynamic: --input-shape fixes it, a dynamic batch defaults to 1, and a dynamic dim left unfixed is a
one-line error naming the input, the dim and the --input-shape that fixes it."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from tests.test_cli import assert_clean_error, qcc

SPELLINGS = {"paddle -1": -1, "zero": 0, "dim_param": "H", "no value": None}


def relu_model(dims: list[int | str | None]) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "dyn", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("dynamic", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_input_shape_overrides_every_dynamic_spelling(dynamic: int | str | None, tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(relu_model([dynamic, 3, dynamic, dynamic]), path)
    proc = qcc("import", path, "--input-shape", "x=1x3x48x192")
    assert proc.returncode == 0, proc.stderr
    assert "%x: f32[1,3,48,192]" in proc.stdout


@pytest.mark.parametrize("dynamic", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_dynamic_batch_defaults_to_one(dynamic: int | str | None, tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(relu_model([dynamic, 3, 8, 8]), path)
    proc = qcc("import", path)
    assert proc.returncode == 0, proc.stderr
    assert "%x: f32[1,3,8,8]" in proc.stdout


@pytest.mark.parametrize("dynamic", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_unfixed_dynamic_dim_is_one_line_naming_input_dim_and_fix(dynamic: int | str | None, tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(relu_model([1, 3, dynamic, 8]), path)
    out = tmp_path / "out"
    proc = qcc("compile", path, "-o", out)
    assert_clean_error(proc, "input 'x'", "dynamic dim", "axis 2", "--input-shape x=1x3xNx8")
    assert not out.exists()


def test_input_shape_must_keep_fixed_dims(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(relu_model([-1, 3, -1, -1]), path)
    proc = qcc("import", path, "--input-shape", "x=1x4x48x192")
    assert_clean_error(proc, "--input-shape x=1x4x48x192 does not fit its declared shape [-1, 3, -1, -1]")
