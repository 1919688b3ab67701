"""``qcc compile`` and ``qcc run OUT/``: the folder it writes, the standalone build, and bad input.

* OUT/ holds the generated C, the kernel sources it needs, main.c, the Makefile, the quantized IR,
  model.json and report.md (with the arena next to its lower bound).
* The generated files compile with ``cc -std=c99 -Wall -Wextra -Werror -pedantic``, and the
  standalone main.c writes the same bytes as the cffi module.
* ``qcc run OUT/`` runs the compiled C and agrees with the module.
* Hostile names (comment markers, quotes, newlines, keywords) give valid, inert C; no compiler is
  one clear error; a failed, refused or interrupted compile leaves no OUT/ and no temporary files.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc.backends.c import lower_graph
from qcc.backends.c.build import compile_standalone
from qcc.backends.c.emitter import emit_sources
from qcc.backends.c.runtime import build_programs, load_compiled
from qcc.cli import main
from tests.quant.example_model import CALIB, MODEL, TEST

HAVE_CC = shutil.which("cc") is not None or shutil.which("gcc") is not None
pytestmark = pytest.mark.skipif(not HAVE_CC, reason="needs a C compiler")


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("compile") / "digits"
    assert main(["compile", str(MODEL), "--calib", str(CALIB), "-o", str(out)]) == 0
    return out


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_out_holds_the_sources_the_ir_and_the_report(compiled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = {p.name for p in compiled.iterdir()}
    assert {"model.c", "model.h", "main.c", "Makefile", "model.qir", "model.npz", "model.json", "report.md",
            "qcc_kernels.h", "qcc_arith.h", "qcc_conv.c", "qcc_boundary.c"} <= names
    assert "qcc_special.c" not in names  # only the kernel sources the model calls
    report = (compiled / "report.md").read_text()
    arena = int(re.search(r"arena: \*\*(\d+) bytes\*\*", report).group(1))  # type: ignore[union-attr]
    bound = int(re.search(r"lower bound \(largest set of simultaneously live tensors\): (\d+) bytes", report).group(1))  # type: ignore[union-attr]
    assert bound <= arena <= 1.25 * bound
    assert "| 0 | `" in report and "SQNR" in report and "w8a8" in report
    header = (compiled / "model.h").read_text()
    assert f"#define QCC_DIGITS_MBV2_ARENA_SIZE {arena}u" in header
    assert "int qcc_digits_mbv2_run(const int8_t *in, int8_t *out, void *arena);" in header


def test_generated_c_compiles_with_all_warnings_as_errors_and_main_reproduces_the_module(compiled: Path, tmp_path: Path) -> None:
    work = tmp_path / "standalone"
    shutil.copytree(compiled, work)
    exe = compile_standalone(work)  # cc -std=c99 -O2 -Wall -Wextra -pedantic -Werror
    model = load_compiled(compiled)
    x = np.load(TEST)["input"][:6]
    for i in range(len(x)):
        q = model.quantize_inputs([x[i : i + 1]])[0]
        q.tofile(work / "in.bin")
        subprocess.run([str(exe), "in.bin", "out.bin"], cwd=work, check=True)
        want = model.run([q])[0]
        assert (work / "out.bin").read_bytes() == want.tobytes()
        # float mode: the generated quantize/dequantize helpers around the same run
        x[i : i + 1].astype(np.float32).tofile(work / "in.f32")
        subprocess.run([str(exe), "-f", "in.f32", "out.f32"], cwd=work, check=True)
        assert np.array_equal(np.fromfile(work / "out.f32", np.float32).reshape(1, 10), model.dequantize_outputs([want])[0])


def test_the_makefile_builds_the_standalone_check(compiled: Path, tmp_path: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("no make")
    work = tmp_path / "make"
    shutil.copytree(compiled, work)
    subprocess.run(["make", "-s", "CFLAGS=-std=c99 -O1 -Wall -Wextra -Werror -pedantic"], cwd=work, check=True, capture_output=True)
    assert (work / "model").is_file()


def test_qcc_run_on_the_folder_runs_the_compiled_c(compiled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "y.npz"
    assert main(["run", str(compiled), "--input", str(TEST), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    top1 = float(re.search(r"top-1 accuracy: ([\d.]+)%", text).group(1))  # type: ignore[union-attr]
    assert top1 > 95.0
    model = load_compiled(compiled)
    x = np.load(TEST)["input"]
    got = np.load(out)["logits"]
    assert got.shape == (len(x), 10)
    assert np.array_equal(got[:3], np.concatenate([model.run_float({"input": x[i : i + 1]})["logits"] for i in range(3)]))


# ---- bad input -----------------------------------------------------------------------------------


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("qcc: error: ") and "\n" not in err, err
    return err


def test_no_compiler_is_one_clear_error_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setenv("QCC_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "out"
    assert main(["compile", str(MODEL), "--calib", str(CALIB), "-o", str(out)]) == 2
    assert "C compiler" in _one_line_error(capsys)
    assert not out.exists() and _leftovers(tmp_path) == []


def test_a_failed_verification_names_the_first_differing_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Break the reference's Add: the C no longer matches, compile exits 1 naming that node."""
    from qcc.backends.numpy_int import kernels

    original = kernels.INT_KERNELS["q.add"]

    def off_by_one(node, xs):  # type: ignore[no-untyped-def]
        (y,) = original(node, xs)
        return [np.clip(y.astype(np.int16) + 1, -128, 127).astype(y.dtype)]

    monkeypatch.setitem(kernels.INT_KERNELS, "q.add", off_by_one)
    out = tmp_path / "out"
    assert main(["compile", str(MODEL), "--calib", str(CALIB), "-o", str(out)]) == 1
    err = _one_line_error(capsys)
    assert "first differing node '/block3/Add_output_0' (q.add)" in err
    assert not out.exists() and _leftovers(tmp_path) == []


def test_an_interrupted_compile_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import qcc.compile as compile_module

    def interrupt(programs):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(compile_module, "build_programs", interrupt)
    out = tmp_path / "out"
    assert main(["compile", str(MODEL), "--calib", str(CALIB), "-o", str(out)]) == 130
    assert not out.exists() and _leftovers(tmp_path) == []


def test_a_previous_output_is_replaced_only_on_success(compiled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "prev"
    shutil.copytree(compiled, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setenv("QCC_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["compile", str(MODEL), "--calib", str(CALIB), "-o", str(out)]) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_refuses_to_replace_a_folder_it_did_not_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert main(["compile", str(MODEL), "--calib", str(CALIB), "-o", str(out)]) == 2
    assert "did not write" in _one_line_error(capsys)
    assert (out / "notes.txt").read_text() == "keep me"


def test_an_op_without_a_c_kernel_is_one_error_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from qcc.ir import DType, Graph, QuantParams, TensorType
    from qcc.ir.serialize import save

    g = Graph("odd")
    x = g.add_input("x", TensorType(DType.I8, (1, 4), QuantParams(0.1, 0, None, 8)))
    y = g.add_node("relu", [x], {}, names="y").result  # an integer op the quantize pass never emits: no C kernel
    g.outputs = [y]
    save(g, tmp_path / "odd.qir")
    out = tmp_path / "out"
    assert main(["compile", str(tmp_path / "odd.qir"), "-o", str(out), "--verify", "0"]) == 2
    assert "(relu): not an op of the integer op set" in _one_line_error(capsys)
    assert not out.exists() and _leftovers(tmp_path) == []


# ---- hostile names -------------------------------------------------------------------------------

HOSTILE = ['*/ int x; /*', 'a"b\\"c', "line\nbreak", "int", "return", "#define main", "??/", "__reserved", "9lives", "%s%n", "é→名"]


def _hostile_onnx(path: Path) -> None:
    """A conv -> relu -> add -> gemm model whose every tensor and node is named with hostile text."""
    rng = np.random.default_rng(0)
    n = iter(HOSTILE * 3)
    x, c, r, a, f, y = (next(n) + f"_{i}" for i in range(6))
    w = numpy_helper.from_array(rng.normal(0, 0.3, (4, 2, 3, 3)).astype(np.float32), next(n))
    bias = numpy_helper.from_array(rng.normal(0, 0.1, (4,)).astype(np.float32), next(n))
    fc = numpy_helper.from_array(rng.normal(0, 0.3, (3, 64)).astype(np.float32), next(n))
    shape = numpy_helper.from_array(np.array([1, 64], np.int64), next(n))
    nodes = [
        helper.make_node("Conv", [x, w.name, bias.name], [c], pads=[1, 1, 1, 1], name=next(n)),
        helper.make_node("Relu", [c], [r], name=next(n)),
        helper.make_node("Add", [r, c], [a], name=next(n)),
        helper.make_node("Reshape", [a, shape.name], [f], name=next(n)),
        helper.make_node("Gemm", [f, fc.name], [y], transB=1, name=next(n)),
    ]
    graph = helper.make_graph(nodes, next(n), [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 2, 4, 4])],
                              [helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, 3])], [w, bias, fc, shape])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


def test_hostile_onnx_names_give_valid_inert_c(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / 'we*ird"name int.onnx'
    _hostile_onnx(model)
    rng = np.random.default_rng(1)
    from qcc.model_io import load_graph

    input_name = load_graph(model).inputs[0].name
    np.savez(tmp_path / "calib.npz", **{input_name: rng.normal(0, 1, (8, 2, 4, 4)).astype(np.float32)})
    out = tmp_path / "out"
    assert main(["compile", str(model), "--calib", str(tmp_path / "calib.npz"), "-o", str(out)]) == 0, capsys.readouterr().err
    for name in ("model.c", "model.h", "main.c"):
        text = (out / name).read_text()
        for hostile in HOSTILE[:3] + ["#define main", "??/"]:
            assert hostile not in text, (name, hostile)
    compile_standalone(out)


def test_hostile_ir_names_are_never_pasted_into_c(tmp_path: Path) -> None:
    """Even names that bypass the IR's own sanitizing (set directly on values) give safe C."""
    from tests.quant.example_model import quantized

    graph = quantized()
    for i, value in enumerate(graph.values()):
        value.name = HOSTILE[i % len(HOSTILE)] + f"{i}"
    graph.name = HOSTILE[0]
    program = lower_graph(graph, 'x*/"\n')
    sources = emit_sources(program)
    for text in sources.values():
        for hostile in ["*/ int", 'a"b', "line\nbreak", "#define main", "??/"]:
            assert hostile not in text
    out = tmp_path / "m"
    out.mkdir()
    from qcc.backends.c.build import kernel_sources

    for name, text in {**sources, **kernel_sources(program.files)}.items():
        (out / name).write_text(text)
    compile_standalone(out)
    (model,) = build_programs([program])
    assert model.run([np.zeros((1, 1, 16, 16), np.int8)])[0].shape == (1, 10)


def test_the_target_sets_the_scheme_and_a_graph_compiles_only_for_its_own_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--target dsp-w4a16` alone means W4A16, model.qir records it, and compiling that model.qir for
    another target is refused in one line, with nothing written."""
    from qcc.model_io import load_graph

    out = tmp_path / "w4a16"
    assert main(["compile", str(MODEL), "--calib", str(CALIB), "-o", str(out), "--target", "dsp-w4a16", "--verify", "2"]) == 0
    graph = load_graph(out / "model.qir")
    assert graph.scheme is not None
    assert (graph.scheme.target, graph.scheme.weight_bits, graph.scheme.activation_bits) == ("dsp-w4a16", 4, 16)
    weights = [n.inputs[1] for n in graph.nodes if n.op == "q.conv"]
    assert weights and all(w.type.quant is not None and w.type.quant.bits == 4 for w in weights)
    assert all(n.result.type.dtype.bits == 16 for n in graph.nodes if n.op == "q.conv")
    assert "W4A16" in (out / "report.md").read_text()
    capsys.readouterr()
    again = tmp_path / "again"
    assert main(["compile", str(out / "model.qir"), "--calib", str(CALIB), "-o", str(again), "--target", "generic-int8"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "qcc: error: the model was quantized for target 'dsp-w4a16' and cannot be compiled for target 'generic-int8'"
    assert not again.exists()
    assert main(["compile", str(out / "model.qir"), "--calib", str(CALIB), "-o", str(again), "--verify", "1"]) == 0  # its own target
