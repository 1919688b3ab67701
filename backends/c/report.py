"""``report.md`` of a compiled model: what was generated, how much memory it takes, how exact it is.

One row per step: the node, its op and kernel, shapes, bit widths, MACs, constant bytes, the arena
bytes live during the step, and the SQNR of its result against the float model (from the
verification samples, where the float graph has a value of the same name).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from qcc.analysis.macs import node_macs
from qcc.backends.c.steps import CProgram, Step


@dataclass
class ReportContext:
    model: str
    target: str
    pipeline: str
    verified_samples: int
    layer_sqnr: dict[str, float] = field(default_factory=dict)
    output_sqnr: dict[str, float] = field(default_factory=dict)
    top1: tuple[float, float] | None = None
    compile_seconds: float | None = None


def _shape(v: Any) -> str:
    return "x".join(str(d) for d in v.type.static_shape) or "scalar"


def _bits(step: Step) -> str:
    node = step.node
    result = step.writes[0]
    act = f"a{result.type.dtype.bits}"
    if node is None:
        return act
    if node.op in ("q.conv", "q.conv_transpose", "q.gemm"):
        q = node.inputs[1].type.quant
        return f"w{q.bits if q is not None else 8}{act}"
    return act


def _weight_bytes(step: Step) -> int:
    if step.node is None:
        return 0
    return sum(int(v.const_array.nbytes) for v in step.node.inputs if v.is_const)


def _md(text: str) -> str:
    """Text safe inside a markdown table cell and code span."""
    return " ".join(text.replace("|", "\\|").replace("`", "'").split())


def _db(v: float | None) -> str:
    if v is None:
        return "—"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.2f}"


def _scheme_text(program: CProgram) -> str:
    scheme = program.graph.scheme
    if scheme is None:
        return "not recorded in the graph"
    text = (f"W{scheme.weight_bits}A{scheme.activation_bits}, {'per-channel' if scheme.per_channel else 'per-tensor'} weights, "
            f"{scheme.rounding} rounding, {scheme.calibration} calibration")
    return text + (f"; overrides `{_md(', '.join(str(o) for o in scheme.overrides))}`" if scheme.overrides else "")


def render_report(program: CProgram, ctx: ReportContext) -> str:
    plan = program.plan
    total_macs = sum(node_macs(s.node) for s in program.steps if s.node is not None)
    total_weights = sum(_weight_bytes(s) for s in program.steps)
    ratio = plan.arena_size / plan.lower_bound if plan.lower_bound else 1.0
    lines = [
        f"# qcc compile report: {program.name}",
        "",
        f"- model: `{_md(ctx.model)}`",
        f"- target: `{_md(ctx.target)}`; pipeline: `{_md(ctx.pipeline)}`",
        f"- quantization scheme: {_scheme_text(program)}",
        f"- C entry point: `int {program.prefix}_run(...)` in `model.c` / `model.h`; {len(program.steps)} steps",
        f"- arena: **{plan.arena_size} bytes**; lower bound (largest set of simultaneously live tensors): "
        f"{plan.lower_bound} bytes; ratio {ratio:.3f}",
        f"- constant data: {total_weights} bytes; {total_macs} MACs per inference",
        f"- bit-exact: the C module's outputs equal the numpy integer reference byte for byte on "
        f"{ctx.verified_samples} calibration sample(s)",
    ]
    if ctx.top1 is not None:
        lines.append(f"- top-1 on the verification samples: float {100 * ctx.top1[0]:.2f}%, C integer {100 * ctx.top1[1]:.2f}%")
    for name, db in ctx.output_sqnr.items():
        lines.append(f"- output `{_md(name)}`: SQNR {_db(db)} dB against the float model")
    if ctx.compile_seconds is not None:
        lines.append(f"- compile time: {ctx.compile_seconds:.2f} s")
    lines += [
        f"- kernel sources: {', '.join('`' + f + '`' for f in program.files)}",
        "- standalone check: `make && ./model input.bin output.bin` (raw integer tensors; `-f` for float32)",
        "",
        "| # | node | op | kernel | shapes | bits | MACs | weight bytes | arena bytes live | SQNR (dB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for step in program.steps:
        node = step.node
        name = node.name if node is not None else step.label
        op = node.op if node is not None else "copy"
        ins = ", ".join(_shape(v) for v in step.reads) or "—"
        outs = ", ".join(_shape(v) for v in step.writes)
        macs = node_macs(node) if node is not None else 0
        sqnr = ctx.layer_sqnr.get(step.writes[0].name) if node is not None else None
        for io in program.outputs:
            if io.value is step.writes[0] or (node is not None and io.value in node.results):
                sqnr = ctx.output_sqnr.get(io.float_name, sqnr)
        kernel = step.kernel + (" (in place)" if step.index in plan.inplace_steps else "")
        lines.append(f"| {step.index} | `{_md(name)}` | {op} | {kernel} | {ins} → {outs} | {_bits(step)} | {macs} | "
                     f"{_weight_bytes(step)} | {plan.live_bytes[step.index]} | {_db(sqnr)} |")
    return "\n".join(lines) + "\n"
