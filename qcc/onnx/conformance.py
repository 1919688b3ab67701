"""Runs the ONNX project's node conformance cases through the importer and the float interpreter.

Every case in ``onnx.backend.test.case.node.collect_testcases`` is a one-node (or, for
``*_expanded``, a function-body) model with input and expected output arrays. A case passes when
qcc imports it and the interpreter reproduces every expected output within the case's own
tolerances. Operands that qcc needs as constants (shapes, axes, pads) are bound to the case's
values, the way a user fixes them when importing a real model.

``python -m qcc.onnx.conformance --write docs/conformance.md`` regenerates the report.
"""

from __future__ import annotations

import argparse
import collections
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from qcc.errors import QccError
from qcc.interp.interpreter import run
from qcc.onnx.converters import NeedsConstant
from qcc.onnx.importer import import_model

# The ops qcc supports fully (CNN layers, activations, detector-head data movement): their cases must pass.
REQUIRED_OPS = (
    "Conv ConvTranspose Gemm MatMul Add Sub Mul Div Relu LeakyRelu PRelu Clip Sigmoid HardSigmoid "
    "HardSwish Tanh Erf Softmax MaxPool AveragePool GlobalAveragePool Concat Split Slice Reshape "
    "Flatten Transpose Squeeze Unsqueeze Resize Pad BatchNormalization LayerNormalization ReduceMean "
    "Pow Sqrt Gather Shape Constant ConstantOfShape Identity Dropout LRN Sum Cast Expand Range Equal Where"
).split()


@dataclass(frozen=True)
class CaseResult:
    name: str
    ops: tuple[str, ...]
    status: str  # "pass", "mismatch", "error" (a clean QccError), "crash" (anything else: a bug)
    detail: str = ""

    @property
    def op(self) -> str:
        """The op a case is reported under: the single op, or 'multi-op' for function bodies."""
        return self.ops[0] if len(self.ops) == 1 else "(multi-op: " + "+".join(sorted(set(self.ops))) + ")"


def collect_cases() -> list[Any]:
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return [c for c in collect_testcases(None) if c.model is not None]


def _as_array(x: Any) -> Any:
    if isinstance(x, onnx.TensorProto):
        return numpy_helper.to_array(x)
    if isinstance(x, np.generic):  # scalar operands (Range's start, Pad's constant_value) come as numpy scalars
        return np.asarray(x)
    return x


def run_case(case: Any) -> CaseResult:
    """Import and run one conformance case; never raises."""
    ops = tuple(n.op_type for n in case.model.graph.node)
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for inputs, expected in case.data_sets:
                status, detail = _run_data_set(case, [_as_array(i) for i in inputs], [_as_array(o) for o in expected])
                if status != "pass":
                    return CaseResult(case.name, ops, status, detail)
        return CaseResult(case.name, ops, "pass")
    except QccError as e:
        return CaseResult(case.name, ops, "error", str(e))
    except Exception as e:  # noqa: BLE001 - the report must show bugs, not stop at the first one
        return CaseResult(case.name, ops, "crash", f"{type(e).__name__}: {e}")


def _run_data_set(case: Any, inputs: Sequence[Any], expected: Sequence[Any]) -> tuple[str, str]:
    model = case.model
    graph_inputs = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    feeds = {name: arr for name, arr in zip(graph_inputs, inputs)}
    for name, arr in feeds.items():
        if not isinstance(arr, np.ndarray):
            return "error", f"input '{name}' is not a tensor"
    shapes = {name: arr.shape for name, arr in feeds.items()}
    bind: dict[str, np.ndarray] = {}
    while True:
        try:
            graph = import_model(model, input_shapes={k: v for k, v in shapes.items() if k not in bind}, bind=bind)
            break
        except NeedsConstant as e:
            if e.value_name not in feeds or e.value_name in bind:
                raise
            bind[e.value_name] = feeds[e.value_name]
    outputs = run(graph, {v.name: feeds[v.name] for v in graph.inputs})  # graph inputs keep their ONNX names
    got = list(outputs.values())
    if len(got) != len(expected):
        return "mismatch", f"{len(got)} outputs, expected {len(expected)}"
    for i, (g, raw) in enumerate(zip(got, expected)):
        want = np.asarray(raw)
        if g.shape != want.shape:
            return "mismatch", f"output {i}: shape {list(g.shape)}, expected {list(want.shape)}"
        if g.dtype != want.dtype:
            return "mismatch", f"output {i}: dtype {g.dtype}, expected {want.dtype}"
        if want.dtype.kind in "fc" or want.dtype.name == "bfloat16":  # ml_dtypes' bfloat16 has kind 'V'
            ok = np.allclose(g.astype(np.float64), want.astype(np.float64), rtol=case.rtol, atol=case.atol, equal_nan=True)
        else:
            ok = np.array_equal(g, want)
        if not ok:
            err = np.max(np.abs(g.astype(np.float64) - want.astype(np.float64))) if g.size else 0
            return "mismatch", f"output {i}: max abs error {err:.3g} (rtol={case.rtol}, atol={case.atol})"
    return "pass", ""


def run_all(cases: Iterable[Any] | None = None) -> list[CaseResult]:
    return [run_case(c) for c in (cases if cases is not None else collect_cases())]


def is_required(result: CaseResult) -> bool:
    """Cases whose every op is in the required list."""
    return all(op in REQUIRED_OPS for op in result.ops)


def render_report(results: Sequence[CaseResult]) -> str:
    by_op: dict[str, list[CaseResult]] = collections.defaultdict(list)
    for r in results:
        if is_required(r):
            by_op[r.op].append(r)
    lines = [
        "# ONNX node conformance",
        "",
        "The ONNX project's node test cases (`onnx.backend.test.case.node.collect_testcases`, onnx "
        f"{onnx.__version__}) run through qcc's importer and float interpreter, compared with each "
        "case's expected outputs at the case's own rtol/atol. Rows are the ops qcc supports fully, "
        "whose cases must all pass apart from the listed unsupported features; multi-op rows are "
        "function-body (`*_expanded`) cases made only of those ops.",
        "",
        "Regenerate with: `python -m qcc.onnx.conformance --write docs/conformance.md`",
        "",
        "| op | passed | total | not passing |",
        "|---|---:|---:|---|",
    ]
    total_pass = total = 0
    for op in sorted(by_op):
        rs = by_op[op]
        passed = sum(r.status == "pass" for r in rs)
        total_pass += passed
        total += len(rs)
        failing = ", ".join(f"`{r.name}` ({r.status}: {r.detail[:120]})" for r in rs if r.status != "pass")
        lines.append(f"| {op} | {passed} | {len(rs)} | {failing} |")
    others = [r for r in results if not is_required(r)]
    lines += [
        f"| **all required** | **{total_pass}** | **{total}** | |",
        "",
        f"Cases using ops outside the list: {len(others)}; of these {sum(r.status == 'pass' for r in others)} pass, "
        f"{sum(r.status == 'error' for r in others)} stop with a clean one-line error, "
        f"{sum(r.status not in ('pass', 'error') for r in others)} do something else.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="PATH", help="write the markdown report here")
    parser.add_argument("--op", help="only cases whose single op is this one")
    args = parser.parse_args(argv)
    cases = collect_cases()
    if args.op:
        cases = [c for c in cases if [n.op_type for n in c.model.graph.node] == [args.op]]
    results = run_all(cases)
    for r in results:
        if is_required(r) and r.status != "pass":
            print(f"{r.status:8s} {r.name}: {r.detail}")
    report = render_report(results)
    if args.write:
        with open(args.write, "w") as f:
            f.write(report)
    else:
        print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
