"""Integer graph inputs (byte values, token ids) stay integers through quantize, the integer
reference and the C backend: an embedding Gather takes them as indices, a float Cast of them
becomes q.from_int (the first integer op, producing an activation with the Cast's calibrated
range), and the C ``run`` takes the input as its own int type."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.test_cli import assert_clean_error, qcc

VOCAB, SEQ, DIM = 10, 6, 4


def ids_model(one_hot: bool = False) -> onnx.ModelProto:
    """y = table[ids] + 0.1 * float(ids) (or, with ``one_hot``, Magika's byte embedding:
    Cast(Equal(ids, arange)) @ table)."""
    rng = np.random.default_rng(0)
    table = rng.normal(size=(VOCAB, DIM)).astype(np.float32)
    inits = [numpy_helper.from_array(table, "table"), numpy_helper.from_array(np.array([1, SEQ, 1], np.int64), "shape3"),
             numpy_helper.from_array(np.array(0.1, np.float32), "k")]
    if one_hot:
        inits.append(numpy_helper.from_array(np.arange(VOCAB, dtype=np.int32).reshape(1, 1, VOCAB), "vocab"))
        embed = [helper.make_node("Reshape", ["ids", "shape3"], ["ids3"]), helper.make_node("Equal", ["ids3", "vocab"], ["hot"]),
                 helper.make_node("Cast", ["hot"], ["hotf"], to=TensorProto.FLOAT), helper.make_node("MatMul", ["hotf", "table"], ["emb"])]
    else:
        embed = [helper.make_node("Gather", ["table", "ids"], ["emb"], axis=0)]
    nodes = embed + [
        helper.make_node("Cast", ["ids"], ["idf"], to=TensorProto.FLOAT),
        helper.make_node("Reshape", ["idf", "shape3"], ["idf3"]),
        helper.make_node("Mul", ["idf3", "k"], ["idk"]),
        helper.make_node("Add", ["emb", "idk"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "ids", [helper.make_tensor_value_info("ids", TensorProto.INT32, ["batch", SEQ])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def float_reference(ids: np.ndarray) -> np.ndarray:
    table = numpy_helper.to_array(ids_model().graph.initializer[0])
    return table[ids] + 0.1 * ids[..., None].astype(np.float32)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "d.npz"
    np.savez(path, ids=np.random.default_rng(1).integers(0, VOCAB, size=(8, SEQ)).astype(np.int32))
    return path


def save(model: onnx.ModelProto, tmp_path: Path) -> Path:
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("one_hot", [False, True], ids=["gather", "equal-cast-matmul"])
def test_quantize_keeps_integer_input_and_integer_reference_runs_it(one_hot: bool, data: Path, tmp_path: Path) -> None:
    model = save(ids_model(one_hot), tmp_path)
    qir = tmp_path / "q.qir"
    proc = qcc("quantize", model, "--calib", data, "-o", qir)
    assert proc.returncode == 0, proc.stderr
    text = qir.read_text()
    assert "graph @ids(%ids: i32[1,6])" in text
    assert "quantize(%ids)" not in text
    assert "q.from_int(%ids)" in text  # the float Cast: the first integer op, producing an activation
    # canonicalize turns the one-hot product into a gather of the table's rows (plus a zero row)
    assert ("gather(%emb.rows, %emb.clamped)" in text and "equal(" not in text) if one_hot else ("gather(%table, %ids)" in text)
    proc = qcc("run", qir, "--input", data, "-o", tmp_path / "y.npz")
    assert proc.returncode == 0, proc.stderr
    assert "executor: integer reference" in proc.stdout
    with np.load(tmp_path / "y.npz") as y, np.load(data) as d:
        np.testing.assert_allclose(y["y"], float_reference(d["ids"]), atol=0.03)  # a few 8-bit steps


def test_compile_takes_the_integer_input_as_int32(data: Path, tmp_path: Path) -> None:
    model, out = save(ids_model(), tmp_path), tmp_path / "out"
    proc = qcc("compile", model, "--calib", data, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "byte-equal" in proc.stdout
    assert "int qcc_m_run(const int32_t *in, int8_t *out, void *arena);" in (out / "model.h").read_text()
    assert qcc("quantize", model, "--calib", data, "-o", tmp_path / "q.qir").returncode == 0
    assert qcc("run", tmp_path / "q.qir", "--input", data, "-o", tmp_path / "ref.npz").returncode == 0
    proc = qcc("run", out, "--input", data, "-o", tmp_path / "c.npz")
    assert proc.returncode == 0, proc.stderr
    with np.load(tmp_path / "ref.npz") as ref, np.load(tmp_path / "c.npz") as c:
        assert np.array_equal(ref["y"], c["y"])


def flag_model() -> onnx.ModelProto:
    """y = float(ids == 3) + 0.5: an integer comparison that no rewrite removes."""
    inits = [numpy_helper.from_array(np.array(3, np.int32), "three"), numpy_helper.from_array(np.array(0.5, np.float32), "half")]
    nodes = [helper.make_node("Equal", ["ids", "three"], ["hot"]), helper.make_node("Cast", ["hot"], ["hotf"], to=TensorProto.FLOAT),
             helper.make_node("Add", ["hotf", "half"], ["y"])]
    graph = helper.make_graph(nodes, "flag", [helper.make_tensor_value_info("ids", TensorProto.INT32, ["batch", SEQ])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_integer_op_without_c_kernel_is_one_line(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = qcc("compile", save(flag_model(), tmp_path), "--calib", data, "-o", out)
    assert_clean_error(proc, "'hot' (equal): no C kernel for this op on integer data yet (C backend)")  # named by the pre-flight check
    assert not out.exists()


def test_one_hot_embedding_compiles_as_a_gather(data: Path, tmp_path: Path) -> None:
    """Magika's Cast(Equal(ids, arange)) @ table: canonicalize makes it a gather, which has a C kernel."""
    proc = qcc("compile", save(ids_model(one_hot=True), tmp_path), "--calib", data, "-o", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert "byte-equal" in proc.stdout


def test_float_data_for_an_integer_input_is_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "f.npz", ids=np.zeros((2, SEQ), np.float32))
    assert_clean_error(qcc("run", save(ids_model(), tmp_path), "--input", tmp_path / "f.npz"), "ids")
