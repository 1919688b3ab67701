"""qcc export: the QDQ ONNX model agrees with the integer reference, the encodings file reproduces
the quantized graph when imported, and bad input is one line naming what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from qcc.backends.numpy_int.executor import run_integer_samples
from qcc.cli import main
from qcc.interop.agreement import qdq_session
from qcc.model_io import load_graph

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _silu_model(path: Path) -> None:
    """conv -> x*sigmoid(x) (a table after quantize) -> global pool -> gemm: every export path."""
    rng = np.random.default_rng(0)
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 2, 3, 3], rng.normal(0, 0.4, 72).astype(np.float32).tolist())
    b = helper.make_tensor("b", TensorProto.FLOAT, [4], rng.normal(0, 0.1, 4).astype(np.float32).tolist())
    fw = helper.make_tensor("fw", TensorProto.FLOAT, [3, 4], rng.normal(0, 0.5, 12).astype(np.float32).tolist())
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["c"], ["s"]),
        helper.make_node("Mul", ["c", "s"], ["a"]),
        helper.make_node("GlobalAveragePool", ["a"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "fw"], ["y"], transB=1),
    ]
    graph = helper.make_graph(nodes, "silu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], [w, b, fw])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


@pytest.fixture(scope="module")
def silu(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("silu")
    model, calib, qir = tmp / "silu.onnx", tmp / "calib.npz", tmp / "silu.qir"
    _silu_model(model)
    np.savez(calib, x=np.random.default_rng(1).normal(0, 1, (16, 2, 8, 8)).astype(np.float32))
    assert main(["quantize", str(model), "--calib", str(calib), "-o", str(qir)]) == 0
    return {"model": model, "calib": calib, "qir": qir, "tmp": tmp}


def _lsb_agreement(qir: Path, qdq: Path, feeds: dict[str, np.ndarray]) -> float:
    graph = load_graph(qir)
    ours = run_integer_samples(graph, feeds)
    session = qdq_session(str(qdq))
    (name,) = [v.name for v in graph.outputs]
    theirs = np.concatenate([session.run(None, {"x": feeds["x"][i:i + 1]})[0] for i in range(len(feeds["x"]))])
    lsb = graph.outputs[0].producer.inputs[0].quant.scale_value()
    return float(np.mean(np.abs(theirs - ours[name].reshape(theirs.shape)) <= 1.001 * lsb))


def test_qdq_export_is_checked_onnx_within_one_lsb(silu: dict[str, Path]) -> None:
    out = silu["tmp"] / "silu_qdq.onnx"
    assert main(["export", str(silu["qir"]), "--format", "qdq", "-o", str(out), "--float", str(silu["model"])]) == 0
    model = onnx.load(out)
    onnx.checker.check_model(model, full_check=True)
    ops = [n.op_type for n in model.graph.node]
    assert "Sigmoid" in ops and "Mul" in ops  # the table became the float ops it came from
    weight_dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] == "w"]
    assert weight_dq and any(a.name == "axis" and a.i == 0 for a in weight_dq[0].attribute)
    feeds = {"x": np.random.default_rng(2).normal(0, 1, (8, 2, 8, 8)).astype(np.float32)}
    assert _lsb_agreement(silu["qir"], out, feeds) >= 0.99


def test_table_without_float_model_is_one_line_error(silu: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(silu["qir"]), "--format", "qdq", "-o", str(silu["tmp"] / "no.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "q.lut" in err and "--float" in err


def test_encodings_round_trip_gives_identical_graph(silu: dict[str, Path]) -> None:
    enc = silu["tmp"] / "silu_out.encodings"
    assert main(["export", str(silu["qir"]), "--format", "encodings", "-o", str(enc), "--float", str(silu["model"])]) == 0
    doc = json.loads(enc.read_text())
    assert doc["version"] == "0.6.1" and {"x", "c", "y"} <= set(doc["activation_encodings"])
    assert len(doc["param_encodings"]["w"]) == 4  # per channel
    float_model = onnx.load(enc.with_suffix(".onnx"))
    assert not [n for n in float_model.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    again = silu["tmp"] / "again.qir"
    assert main(["quantize", str(silu["model"]), "--encodings", str(enc), "-o", str(again)]) == 0
    assert again.read_text() == silu["qir"].read_text()


@pytest.mark.parametrize("recipe", ["fast", "dfq"])
def test_encodings_round_trip_compiles_to_identical_c(recipe: str, tmp_path: Path) -> None:
    """compile, export encodings, compile the exported float model with --encodings and the same
    recipe: the same model.qir (scales, zero points, integers) and byte-identical C. dfq changes the
    weights (equalization, bias correction); the exported model carries them and the file's
    param_encodings fix their grids, so nothing is re-derived from float32 weights."""
    calib = tmp_path / "calib16.npz"
    np.savez(calib, input=np.load(EXAMPLES / "calib.npz")["input"][:16])
    first, again, enc = tmp_path / "first", tmp_path / "again", tmp_path / "export" / "digits_mbv2.encodings"
    enc.parent.mkdir()
    assert main(["compile", str(EXAMPLES / "digits_mbv2.onnx"), "--calib", str(calib), "-o", str(first), "--recipe", recipe]) == 0
    assert main(["export", str(first / "model.qir"), "--format", "encodings", "-o", str(enc)]) == 0
    assert main(["compile", str(enc.with_suffix(".onnx")), "--encodings", str(enc), "--calib", str(calib), "-o", str(again),
                 "--recipe", recipe]) == 0
    assert (again / "model.qir").read_text() == (first / "model.qir").read_text()
    assert (again / "model.c").read_bytes() == (first / "model.c").read_bytes()


def _encodings_doc(silu: dict[str, Path], name: str) -> tuple[Path, dict]:
    enc = silu["tmp"] / f"{name}.encodings"
    assert main(["export", str(silu["qir"]), "--format", "encodings", "-o", str(enc), "--float", str(silu["model"])]) == 0
    return enc, json.loads(enc.read_text())


@pytest.mark.parametrize(("change", "message"), [
    (lambda doc: doc["param_encodings"].pop("fw"), "has no parameter encoding for weight 'fw' of node"),
    (lambda doc: doc["param_encodings"]["w"].pop(), "weight 'w' has 3 encodings, but the scheme quantizes it per channel along axis 0: 4"),
    (lambda doc: doc["param_encodings"]["w"][0].update(scale=doc["param_encodings"]["w"][0]["scale"] / 4),
     "weight 'w' reaches 508 steps of its encoding's scale, beyond the 8-bit weight range [-127, 127]"),
    (lambda doc: doc["param_encodings"]["w"][1].update(offset=-120), "weight 'w': qcc quantizes weights symmetrically"),
])
def test_bad_parameter_encodings_are_named(silu: dict[str, Path], capsys: pytest.CaptureFixture[str], change, message: str) -> None:
    enc, doc = _encodings_doc(silu, "params")
    change(doc)
    enc.write_text(json.dumps(doc))
    assert main(["quantize", str(enc.with_suffix(".onnx")), "--encodings", str(enc), "-o", str(silu["tmp"] / "x.qir")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_encodings_missing_tensor_is_named(silu: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    enc = silu["tmp"] / "partial.encodings"
    assert main(["export", str(silu["qir"]), "--format", "encodings", "-o", str(enc), "--float", str(silu["model"])]) == 0
    doc = json.loads(enc.read_text())
    del doc["activation_encodings"]["c"]
    enc.write_text(json.dumps(doc))
    assert main(["quantize", str(silu["model"]), "--encodings", str(enc), "-o", str(silu["tmp"] / "x.qir")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no encoding for tensor 'c'" in err


def test_encodings_bitwidth_mismatch_is_named(silu: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    enc = silu["tmp"] / "wide.encodings"
    assert main(["export", str(silu["qir"]), "--format", "encodings", "-o", str(enc), "--float", str(silu["model"])]) == 0
    doc = json.loads(enc.read_text())
    doc["activation_encodings"]["c"][0].update(bitwidth=16, offset=-32768)
    enc.write_text(json.dumps(doc))
    assert main(["quantize", str(silu["model"]), "--encodings", str(enc), "-o", str(silu["tmp"] / "x.qir")]) == 2
    assert "tensor 'c' has a 16-bit encoding" in capsys.readouterr().err


def test_example_model_qdq_export(tmp_path: Path) -> None:
    qir, out = tmp_path / "digits.qir", tmp_path / "digits_qdq.onnx"
    assert main(["quantize", str(EXAMPLES / "digits_mbv2.onnx"), "--calib", str(EXAMPLES / "calib.npz"), "-o", str(qir)]) == 0
    assert main(["export", str(qir), "--format", "qdq", "-o", str(out)]) == 0
    test = dict(np.load(EXAMPLES / "test.npz"))
    graph = load_graph(qir)
    ours = run_integer_samples(graph, {"input": test["input"][:16]})["logits"]
    session = qdq_session(str(out))
    theirs = np.concatenate([session.run(None, {"input": test["input"][i:i + 1]})[0] for i in range(16)])
    lsb = graph.outputs[0].producer.inputs[0].quant.scale_value()
    assert np.mean(np.abs(theirs - ours) <= 1.001 * lsb) >= 0.99


def _head_model(path: Path) -> None:
    """Two outputs made by weight layers (outputs=accumulator keeps both int32): a conv with a fused
    ReLU6 and a gemm with alpha 0.5 and a bias, both reading the quantized graph input."""
    rng = np.random.default_rng(3)
    inits = [
        helper.make_tensor("w", TensorProto.FLOAT, [3, 2, 3, 3], rng.normal(0, 0.5, 54).astype(np.float32).tolist()),
        helper.make_tensor("b", TensorProto.FLOAT, [3], [0.5, -0.25, 1.0]),
        helper.make_tensor("six", TensorProto.FLOAT, [], [6.0]),
        helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor("fw", TensorProto.FLOAT, [4, 72], rng.normal(0, 0.2, 288).astype(np.float32).tolist()),
        helper.make_tensor("fb", TensorProto.FLOAT, [4], [0.1, -0.2, 0.3, 0.0]),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["c", "zero", "six"], ["boxes"]),
        helper.make_node("Flatten", ["x"], ["f"]),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["scores"], transB=1, alpha=0.5),
    ]
    graph = helper.make_graph(nodes, "head", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 6])],
                              [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, 3, 6, 6]),
                               helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 4])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("head")
    model, calib, qir = tmp / "head.onnx", tmp / "calib.npz", tmp / "head.qir"
    _head_model(model)
    np.savez(calib, x=np.random.default_rng(4).normal(0, 1, (16, 2, 6, 6)).astype(np.float32))
    assert main(["quantize", str(model), "--calib", str(calib), "-o", str(qir), "--recipe", "fast{outputs=accumulator}"]) == 0
    return {"model": model, "calib": calib, "qir": qir, "tmp": tmp}


def test_accumulator_outputs_export_as_float_ops(head: dict[str, Path]) -> None:
    """q.conv_acc / q.gemm_acc become float Conv / Gemm on the dequantized input, weights and bias,
    with no QuantizeLinear after them; onnxruntime's result is the real value qcc's int32 accumulator
    stands for, s_c * acc, up to float32 rounding (relative 1e-5 of the output's range) and, where
    the fused ReLU6 clamps, one accumulator step s_c (the clip is one real bound for all channels)."""
    graph = load_graph(head["qir"])
    assert sorted(n.op for n in graph.nodes if n.op.endswith("_acc")) == ["q.conv_acc", "q.gemm_acc"]
    out = head["tmp"] / "head_qdq.onnx"
    assert main(["export", str(head["qir"]), "--format", "qdq", "-o", str(out)]) == 0
    model = onnx.load(out)
    onnx.checker.check_model(model, full_check=True)
    ops = [n.op_type for n in model.graph.node]
    made_by = {out: n.op_type for n in model.graph.node for out in n.output}
    quantized = [made_by.get(n.input[0], "input") for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert sorted(quantized) == ["Reshape", "input"]  # the input and its flatten; both outputs stay real
    assert "Clip" in ops and next(a.f for n in model.graph.node if n.op_type == "Gemm" for a in n.attribute if a.name == "alpha") == 0.5
    feeds = {"x": 1.5 * np.random.default_rng(5).normal(0, 1, (8, 2, 6, 6)).astype(np.float32)}  # beyond the calibrated range too
    ours = run_integer_samples(graph, feeds)
    session = qdq_session(str(out))
    for name in ("boxes", "scores"):
        theirs = np.concatenate([session.run([name], {"x": feeds["x"][i:i + 1]})[0] for i in range(8)])
        q = next(n for n in graph.nodes if n.op.endswith("_acc") and n.result.users[0].result.name == name).result.quant
        step = float(np.max(q.scale))
        tolerance = 1e-5 * float(np.abs(ours[name]).max()) + step
        assert np.abs(theirs - ours[name].reshape(theirs.shape)).max() <= tolerance, name
    assert np.abs(ours["boxes"]).max() <= 6.0 and ours["boxes"].min() >= 0.0


def test_accumulator_outputs_have_no_activation_encoding(head: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """The encodings export leaves the int32 outputs out; importing the file needs outputs=accumulator
    (then the round trip is exact), and a scheme without it is told so in one line."""
    enc = head["tmp"] / "exported" / "head.encodings"
    enc.parent.mkdir()
    assert main(["export", str(head["qir"]), "--format", "encodings", "-o", str(enc)]) == 0
    doc = json.loads(enc.read_text())
    assert set(doc["activation_encodings"]) == {"x", "f"} and set(doc["param_encodings"]) == {"w", "fw"}
    again = head["tmp"] / "again.qir"
    assert main(["quantize", str(enc.with_suffix(".onnx")), "--encodings", str(enc), "-o", str(again), "--recipe", "fast{outputs=accumulator}"]) == 0
    assert again.read_text() == head["qir"].read_text()
    capsys.readouterr()
    assert main(["quantize", str(enc.with_suffix(".onnx")), "--encodings", str(enc), "-o", str(head["tmp"] / "int8.qir")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "int32 accumulator" in err and "outputs=accumulator" in err
