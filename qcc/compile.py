"""``qcc compile``: float model → quantized IR → C → built module → verified → ``OUT/``.

The folder is assembled in a temporary directory next to ``OUT`` and renamed into place only after
the C module was built and found byte-equal to the integer reference (``qcc.fileio``): a failed
or interrupted compile leaves no partial ``OUT/``. ``OUT/`` holds ``model.c``, ``model.h``, the
kernel library files the model calls, ``main.c`` and a ``Makefile`` for a standalone build,
``model.qir`` (+ ``model.npz``) with the quantized graph, ``model.json`` (what ``qcc run OUT/``
needs to load it) and ``report.md``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qcc.accuracy import Comparison
from qcc.backends.c.build import kernel_sources
from qcc.backends.c.carrays import CONSTANT_FORMS
from qcc.backends.c.emitter import emit_sources, model_h
from qcc.backends.c.footprint import model_footprint, program_stack
from qcc.backends.c.lowering import lower_graph
from qcc.backends.c.report import ReportContext, render_report
from qcc.backends.c.runtime import CModel, ModelInfo, build_programs
from qcc.backends.c.steps import CBackendError, CProgram
from qcc.backends.c.verify import ReferenceRun, verify_while_building
from qcc.backends.numpy_int.executor import integer_node
from qcc.calibration.source import CalibrationSet
from qcc.errors import InputError, QccError
from qcc.fileio import atomic_directory
from qcc.interp.threads import limited_blas_threads
from qcc.ir.core import Graph
from qcc.ir.serialize import save
from qcc.limits import check_arena, check_tensor_sizes
from qcc.model_io import load_graph
from qcc.pipeline import PassManager, parse_pipeline
from qcc.preflight import preflight_hook
from qcc.targets import DEFAULT_TARGET, get_target

MANIFEST = "model.json"


@dataclass
class CompileResult:
    program: CProgram
    model: CModel
    out: Path
    verified: int
    seconds: float


def is_quantized(graph: Graph) -> bool:
    """An integer graph already (the output of qcc quantize): the pipeline does not apply."""
    # an integer input with quantization parameters is; a float input carrying them is only calibrated
    # (calibrate, or qcc train, wrote its range) and still needs the pipeline's quantize
    return any(n.op == "quantize" or n.op.startswith("q.") for n in graph.nodes) or any(
        v.type.quant is not None and not v.type.dtype.is_float for v in graph.inputs)


def check_output_dir(out: Path) -> None:
    """Refuse to replace anything but an earlier ``qcc compile`` folder."""
    if out.exists():
        if not out.is_dir():
            raise InputError(f"-o '{out}' exists and is not a directory")
        if any(out.iterdir()) and not (out / MANIFEST).is_file():
            raise InputError(f"-o '{out}' is a non-empty directory that qcc compile did not write; choose another output folder")
    if out.resolve() == Path.cwd().resolve() or out.resolve() == Path(out.resolve().anchor):
        raise InputError(f"-o '{out}': refusing to replace the current or root directory")


def compile_graph(
    float_graph: Graph | None,
    quantized: Graph,
    out: str | Path,
    *,
    name: str,
    samples: Callable[[], Any],
    verify: int,
    model_label: str,
    target: str,
    pipeline: str,
    started: float | None = None,
    log: Callable[[str], None] = lambda message: None,
    constant_form: str = "strings",
    stack_compiler: Sequence[str] = (),
) -> CompileResult:
    """Lower, build, verify and write ``OUT/`` for an already quantized graph. ``samples()``
    returns an iterable of float feed dicts (the first ``verify`` are checked); ``constant_form``
    is how model.c writes weights (``carrays.CONSTANT_FORMS``); ``stack_compiler`` the compiler
    command and flags the stack is measured for (default: the build's)."""
    if constant_form not in CONSTANT_FORMS:
        raise InputError(f"--c-constants {constant_form}: expected one of {', '.join(CONSTANT_FORMS)}")
    started = time.perf_counter() if started is None else started
    out = Path(out)
    check_output_dir(out)
    if quantized.scheme is not None and quantized.scheme.target != target:
        raise CBackendError(f"the model was quantized for target '{quantized.scheme.target}' and cannot be compiled for target '{target}'")
    check_tensor_sizes(quantized)
    program = lower_graph(quantized, name)
    check_arena(program.plan.arena_size, get_target(target))
    program.constant_form = constant_form
    log(f"lowered {len(program.steps)} steps; arena {program.plan.arena_size} bytes (lower bound {program.plan.lower_bound})")
    sources = emit_sources(program)
    kernels = kernel_sources(program.files)
    # the C build and the stack measurement are compiler processes: they run while Python runs the
    # references of the verification (the module does not include the footprint model.h gets)
    with ThreadPoolExecutor(max_workers=2) as pool, atomic_directory(out) as tmp:
        build: Future[CModel] = pool.submit(lambda: build_programs([program])[0])
        stack_job = pool.submit(program_stack, program, sources["model.c"], sources["model.h"], stack_compiler)
        # report.md's SQNR comes from the same integer reference runs as the check
        comparison = Comparison(float_graph, quantized, per_layer=True) if verify > 0 and float_graph is not None else None
        run_reference = _adding_to(comparison) if comparison is not None else None
        with limited_blas_threads(reserved=1):  # one core for the compiler: idle BLAS threads spin
            checked = verify_while_building(program, build, _take(samples(), verify), run_reference).samples if verify > 0 else 0
        model = build.result()
        report = comparison.finish() if comparison is not None else None
        log(f"built the C module; verified {checked} sample(s): byte-equal to the integer reference")
        stack = stack_job.result()
        footprint = model_footprint(program, sources["model.c"], stack)
        sources["model.h"] = model_h(program, footprint)
        log(f"flash {footprint.flash.by_model()} bytes; stack {'not measured' if stack is None else stack.bytes}")
        for file_name, text in {**sources, **kernels}.items():
            (tmp / file_name).write_text(text)
        save(quantized, tmp / "model.qir")
        info = ModelInfo.from_program(program)
        (tmp / MANIFEST).write_text(info.to_json())
        ctx = ReportContext(model_label, target, pipeline, checked)
        if checked and report is not None:
            ctx.layer_sqnr = {k: v.sqnr_db for k, v in report.layers.items()}
            ctx.output_sqnr = {k: v.sqnr_db for k, v in report.outputs.items()}
        seconds = time.perf_counter() - started
        ctx.compile_seconds = seconds
        (tmp / "report.md").write_text(render_report(program, ctx, footprint))
    return CompileResult(program, model, out, checked, seconds)


def _adding_to(comparison: Comparison) -> ReferenceRun:
    """The verification's integer reference run that also adds the sample to ``comparison``."""
    return lambda feeds, observer: comparison.add(feeds, integer_node, observe_quant=observer)


def _take(iterable: Any, n: int) -> Any:
    for index, item in enumerate(iterable):
        if index >= n:
            return
        yield item


def compile_model(
    model_path: str | Path,
    out: str | Path,
    *,
    calibration: Any,
    pipeline: str,
    context: Any,
    verify: int = 4,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    name: str | None = None,
    log: Callable[[str], None] = lambda message: None,
    constant_form: str = "strings",
    stack_compiler: Sequence[str] = (),
) -> CompileResult:
    """The whole job of ``qcc compile`` (see the module docstring)."""
    started = time.perf_counter()
    if verify < 0:
        raise InputError(f"--verify {verify}: the number of samples must be >= 0")
    passes = parse_pipeline(pipeline)  # a bad pipeline fails before any work
    check_output_dir(Path(out))
    graph = load_graph(model_path, input_shapes)
    float_graph = load_graph(model_path, input_shapes)
    if is_quantized(graph):
        quantized = graph
        log("the model is already quantized: the pipeline is skipped")
    else:
        if calibration is None:
            raise InputError("--calib is required to quantize a float model")
        if context.preflight is None:  # every node C cannot run is named before calibration starts
            context.preflight = preflight_hook(context.target, c_backend=True)
        quantized = PassManager(passes).run(graph, context)
    if calibration is None and verify > 0:
        raise InputError("--calib is required to verify the C model (or pass --verify 0)")

    def samples() -> Any:
        return CalibrationSet(float_graph if not is_quantized(float_graph) else quantized, calibration, limit=verify) if calibration is not None else []

    label = Path(model_path).name
    target = context.target.name if context.target is not None else quantized.scheme.target if quantized.scheme is not None else DEFAULT_TARGET
    already = is_quantized(float_graph)
    return compile_graph(None if already else float_graph, quantized, out, name=name or Path(model_path).stem, samples=samples, verify=verify,
                         model_label=label, target=target, pipeline="(already quantized)" if already else pipeline,
                         started=started, log=log, constant_form=constant_form,
                         stack_compiler=stack_compiler)


__all__ = ["CompileResult", "compile_graph", "compile_model", "QccError"]
