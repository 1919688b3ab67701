"""The resource limits of qcc.limits: each is one clean error before the work it would break."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc.cli import main
from qcc.errors import InputError
from qcc.ir import DType, Graph, TensorType
from qcc.limits import MAX_MODEL_BYTES_ENV, LimitExceeded, check_tensor_sizes
from tests.conftest_models import relu_add_model


def test_a_model_past_the_size_limit_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(relu_add_model(), path)
    monkeypatch.setenv(MAX_MODEL_BYTES_ENV, str(path.stat().st_size - 1))
    assert main(["import", str(path), "-o", str(tmp_path / "o.qir")]) == 2
    assert "more than the model size limit" in capsys.readouterr().err
    assert not (tmp_path / "o.qir").exists()
    monkeypatch.setenv(MAX_MODEL_BYTES_ENV, str(path.stat().st_size))
    assert main(["import", str(path), "--summary"]) == 0


def test_a_bad_size_limit_setting_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(relu_add_model(), path)
    monkeypatch.setenv(MAX_MODEL_BYTES_ENV, "2GB")
    assert main(["import", str(path)]) == 2
    assert f"{MAX_MODEL_BYTES_ENV}='2GB'" in capsys.readouterr().err
    with pytest.raises(InputError):
        from qcc.limits import max_model_bytes

        max_model_bytes()


def test_a_tensor_past_int32_indexing_is_refused() -> None:
    graph = Graph("big")
    graph.add_input("x", TensorType(DType.I8, (1, 65536, 32768)))  # 2**31 elements: one past the last int32 index
    with pytest.raises(LimitExceeded, match=r"value 'x' \[1, ?65536, ?32768\] has 2,147,483,648 elements"):
        check_tensor_sizes(graph)
    fits = Graph("fits")
    fits.add_input("x", TensorType(DType.I8, (1, 65535, 32768)))
    check_tensor_sizes(fits)


def test_an_arena_past_the_targets_ram_is_a_compile_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # conv 1x1 to 9 channels and back on 256x256: the middle tensor alone (576 KiB) outgrows the MCU's 512 KiB
    inits = [numpy_helper.from_array(np.ones((9, 1, 1, 1), np.float32), "w1"), numpy_helper.from_array(np.ones((1, 9, 1, 1), np.float32), "w2")]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["h"], name="widen"), helper.make_node("Conv", ["h", "w2"], ["y"], name="narrow")]
    graph = helper.make_graph(nodes, "wide", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 256, 256])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 256, 256])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), tmp_path / "wide.onnx")
    np.savez(tmp_path / "c.npz", x=np.random.default_rng(0).normal(size=(2, 1, 256, 256)).astype(np.float32))
    code = main(["compile", str(tmp_path / "wide.onnx"), "--calib", str(tmp_path / "c.npz"), "-o", str(tmp_path / "out"),
                 "--target", "mcu-int8-per-tensor"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "more than target 'mcu-int8-per-tensor' has RAM (524,288 bytes)" in err
    assert not (tmp_path / "out").exists()
