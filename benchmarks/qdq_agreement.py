"""How close onnxruntime running qcc's QDQ export comes to qcc's integer reference.

For each model: export the quantized .qir as QDQ ONNX, run the test inputs through onnxruntime, the
integer reference and the float interpreter, and print the share of output elements within one
output LSB of the integer reference and both SQNRs against the float model.

    python benchmarks/qdq_agreement.py --example            # the shipped example model
    python benchmarks/qdq_agreement.py --zoo NAME [NAME...] # runs under ~/.cache/qcc/zoo/runs/NAME
    ... --rounding single    # the same integers requantized with one rounding (docs/arithmetic.md §2.3)
    ... --per-op             # per op type: onnxruntime fed qcc's inputs at every op (qcc.interop.agreement)
    python benchmarks/qdq_agreement.py --example --recipe dfq   # the example quantized with another recipe

onnxruntime runs at its basic optimization level (``qcc.interop.agreement.qdq_session`` says why).
An int32 accumulator output (outputs=accumulator, the dfq/adaround default) has no output grid: its
row gives the largest difference instead of the share within one LSB.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from qcc.analysis.error import ErrorStats
from qcc.backends.numpy_int.executor import run_integer_samples
from qcc.cli import main as qcc_main
from qcc.interop.agreement import TensorAgreement, compare_tensors, qdq_session, rounded_once
from qcc.interop.qdq import export_qdq
from qcc.interop.reference import float_reference
from qcc.interp.batching import run_samples_batched
from qcc.ir.core import Graph
from qcc.model_io import load_graph

ZOO = Path.home() / ".cache/qcc/zoo/runs"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def measure(label: str, qir: Path, float_model: Path, test: Path, limit: int, single: bool, per_op: bool) -> None:
    graph, float_graph = load_graph(qir), load_graph(float_model)
    graph = rounded_once(graph) if single else graph
    reference = float_reference(float_model)
    if per_op:
        return per_op_table(label, graph, reference, np.load(test), limit)
    model = export_qdq(graph, reference)
    session = qdq_session(model)
    names = [i.name for i in session.get_inputs()]
    data = np.load(test)
    feeds = {n: data[n][:limit] for n in names}
    count = len(next(iter(feeds.values())))
    ours = run_integer_samples(graph, feeds)
    floats = run_samples_batched(float_graph, feeds)
    theirs: dict[str, list[np.ndarray]] = {o.name: [] for o in session.get_outputs()}
    for i in range(count):
        for name, arr in zip(theirs, session.run(None, {n: feeds[n][i:i + 1] for n in names})):
            theirs[name].append(arr)
    for out in graph.outputs:
        ort_out, int_out, ref = np.concatenate(theirs[out.name]), ours[out.name], floats[out.name]
        lsb = _output_scale(graph, out.name)
        diff = np.abs(ort_out.astype(np.float64) - int_out.reshape(ort_out.shape))
        if _is_accumulator(graph, out.name):  # no output grid: how far apart, against the output's range
            agreement = f"int32 accumulator: max difference {diff.max():.2g} ({diff.max() / max(float(np.abs(int_out).max()), 1e-30):.1e} of max abs)"
        else:
            agreement = f"{100 * float(np.mean(diff <= 1.001 * lsb)):.2f}%"
        q_err, o_err = ErrorStats(), ErrorStats()
        q_err.add(ref, int_out)
        o_err.add(ref, ort_out.reshape(ref.shape))
        sqnr = f"{q_err.sqnr_db:.2f} | {o_err.sqnr_db:.2f} | {o_err.sqnr_db - q_err.sqnr_db:+.2f}"
        print(f"| {label} | {out.name} | {count} | {agreement} | {sqnr} |", flush=True)


def per_op_table(label: str, graph: Graph, reference: Graph, data: np.lib.npyio.NpzFile, limit: int) -> None:
    """Rows per op type: share of its output elements that differ, and by more than one LSB, when
    onnxruntime computes the op from qcc's own integer inputs."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for i in range(min(limit, len(data[graph.inputs[0].name]))):
        rows: list[TensorAgreement] = compare_tensors(graph, reference, {v.name: data[v.name][i:i + 1] for v in graph.inputs}, "isolated")
        for row in rows:
            t = totals[row.op]
            t[0], t[1], t[2], t[3] = t[0] + row.elements, t[1] + row.differ, t[2] + row.beyond_one, max(t[3], row.max_abs)
    for op, (elements, differ, beyond, worst) in totals.items():
        if op.startswith("q."):
            print(f"| {label} | {op} | {elements} | {100 * differ / elements:.2f}% | {100 * beyond / elements:.3f}% | {worst} |", flush=True)


def _is_accumulator(graph: Graph, name: str) -> bool:
    """An int32 accumulator output (outputs=accumulator, docs/arithmetic.md §3.20)."""
    out = next(v for v in graph.outputs if v.name == name)
    return out.producer is not None and out.producer.op == "dequantize" and out.producer.inputs[0].quant.bits == 32


def _output_scale(graph: Graph, name: str) -> float | np.ndarray:
    """The output's LSB: one scale, or per-axis scales shaped to broadcast along their axis (a joined output)."""
    out = next(v for v in graph.outputs if v.name == name)
    if out.producer is None or out.producer.op != "dequantize":
        return 0.0
    q = out.producer.inputs[0].quant
    if q.axis is None:
        return q.scale_value()
    shape = [1] * len(out.type.shape)
    shape[q.axis] = -1
    return np.asarray(q.scale, np.float64).reshape(shape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--example", action="store_true")
    parser.add_argument("--zoo", nargs="*", default=[])
    parser.add_argument("--limit", type=int, default=16, help="test samples per model")
    parser.add_argument("--rounding", choices=("target", "single"), default="target",
                        help="single: requantize with one rounding, as onnxruntime's QuantizeLinear does")
    parser.add_argument("--per-op", action="store_true", help="per integer op type, each fed qcc's own inputs")
    parser.add_argument("--recipe", default="fast", help="the example's recipe (the zoo rows use the zoo harness's fast.qir)")
    args = parser.parse_args()
    single = args.rounding == "single"
    if args.per_op:
        print("| model | op | output elements | differ | by more than 1 LSB | largest difference |")
        print("|---|---|---|---|---|---|")
    else:
        print("| model | output | samples | within 1 LSB | qcc SQNR dB | onnxruntime QDQ SQNR dB | difference dB |")
        print("|---|---|---|---|---|---|---|")
    if args.example:
        with tempfile.TemporaryDirectory() as tmp:
            qir = Path(tmp) / "digits.qir"
            qcc_main(["quantize", str(EXAMPLES / "digits_mbv2.onnx"), "--calib", str(EXAMPLES / "calib.npz"), "-o", str(qir), "--recipe", args.recipe])
            label = "example digits_mbv2" + ("" if args.recipe == "fast" else f" ({args.recipe})")
            measure(label, qir, EXAMPLES / "digits_mbv2.onnx", EXAMPLES / "test.npz", args.limit, single, args.per_op)
    for name in args.zoo:
        run = ZOO / name
        try:
            measure(name, run / "fast.qir", run / "float.qir", run / "fast_test_ir.npz", args.limit, single, args.per_op)
        except Exception as e:  # noqa: BLE001 - one model's failure is a row, not the end of the table
            print(f"| {name} | failed: {type(e).__name__}: {str(e).splitlines()[0][:150]} | | | | | |", flush=True)


if __name__ == "__main__":
    main()
