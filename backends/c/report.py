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
from qcc.backends.c.footprint import ILP32, LP64, ModelFootprint
from qcc.backends.c.packing import stored_nbytes
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
    if node.op in ("q.conv", "q.conv_transpose", "q.gemm", "q.conv_acc", "q.gemm_acc"):
        q = node.inputs[1].type.quant
        return f"w{q.bits if q is not None else 8}{act}"
    return act


def _weight_bytes(step: Step) -> int:
    if step.node is None:
        return 0
    return sum(stored_nbytes(v) for v in step.node.inputs if v.is_const)


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


def _footprint_lines(footprint: ModelFootprint) -> list[str]:
    """Flash and RAM, each with how it was obtained (docs: backends/c/footprint.py, stack.py)."""
    flash = footprint.flash
    arrays = sum(o.nbytes(ILP32) for o in flash.objects if o.ctype in ("unsigned char", "int8_t"))
    lines = [
        f"- flash (constant data): **{flash.total(ILP32)} bytes** with 32-bit pointers (Cortex-M, armhf), "
        f"{flash.total(LP64)} bytes with 64-bit ones: every constant object model.c defines ({len(flash.objects)}), "
        f"of which {arrays} bytes of weights (int8, or 4-bit packed two per byte) and the rest biases, multipliers, shifts, "
        "tables, parameter structs and the step table; object sizes, kernel code not included",
    ]
    stack = footprint.stack
    if stack is None or footprint.ram is None:
        lines.append(f"- RAM: arena {footprint.arena} + input/output buffers {footprint.io} bytes; stack not measured "
                     "(the C compiler has no -fcallgraph-info: GCC 10 or later measures it)")
        return lines
    bound = "" if stack.bounded else " (a lower bound: a frame on the chain is dynamic)"
    library = f"; library calls not counted: {', '.join(stack.external)}" if stack.external else ""
    lines += [
        f"- RAM: **{footprint.ram} bytes** = arena {footprint.arena} + input/output buffers {footprint.io} "
        f"+ worst-case stack of run() {stack.bytes}{bound}",
        f"- stack: the heaviest call chain in the compiler's own frame sizes (-fstack-usage, -fcallgraph-info): "
        f"`{_md(stack.describe())}`{_md(library)}; static per function, for this compiler and these flags only",
    ]
    return lines


def render_report(program: CProgram, ctx: ReportContext, footprint: ModelFootprint | None = None) -> str:
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
        f"- weight tensors: {total_weights} bytes; {total_macs} MACs per inference",
        f"- bit-exact: the C module's outputs equal the numpy integer reference byte for byte on "
        f"{ctx.verified_samples} calibration sample(s)",
    ]
    if footprint is not None:
        lines += _footprint_lines(footprint)
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
