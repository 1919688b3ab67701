"""The ``qcc`` command line.

Every user mistake ends as one line ``qcc: error: ...`` and exit code 2 (1 for a failed check);
tracebacks only with ``--debug``. Outputs are written atomically.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from qcc.errors import QccError
from qcc.fileio import atomic_files, save_npz
from qcc.ir.core import Graph
from qcc.ir.printer import to_text, value_ref
from qcc.ir.serialize import save
from qcc.model_io import load_graph, parse_input_shape
from qcc.train.arguments import add_train_arguments


def _input_shapes(args: argparse.Namespace) -> dict[str, tuple[int, ...]]:
    return dict(parse_input_shape(s) for s in getattr(args, "input_shape", None) or [])


def _write_graph(graph: Graph, out: str) -> None:
    path = Path(out)
    if path.suffix != ".qir":
        raise QccError(f"-o '{out}': IR output files end in .qir")
    with atomic_files(path, path.with_suffix(".npz")) as (qir, _npz):
        save(graph, qir)
    print(f"wrote {path}" + (f" and {path.with_suffix('.npz')}" if path.with_suffix(".npz").exists() else ""))


# ---- commands ----------------------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> int:
    from qcc.analysis.summary import graph_summary

    graph = load_graph(args.model, _input_shapes(args))
    if args.output:
        _write_graph(graph, args.output)
    if args.summary or args.output:
        print(graph_summary(graph))
    else:
        sys.stdout.write(to_text(graph))
    return 0


def cmd_opt(args: argparse.Namespace) -> int:
    from qcc.pipeline import PassManager, parse_pipeline

    passes = parse_pipeline(args.pipeline)  # errors before any work
    graph = load_graph(args.input)
    after: frozenset[str] | bool = False
    if args.print_ir_after:
        after = True if args.print_ir_after == "all" else frozenset(args.print_ir_after.split(","))
    pm = PassManager(passes, verify_each=not args.no_verify, print_ir_after=after)
    graph = pm.run(graph, _context(args))
    if args.timing:
        print(pm.timing_report(), file=sys.stderr)
    if args.output:
        _write_graph(graph, args.output)
    else:
        sys.stdout.write(to_text(graph))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from qcc.backends.numpy_int.executor import run_integer_samples
    from qcc.compile import is_quantized
    from qcc.data import load_feeds
    from qcc.interp.batching import run_samples_batched

    if Path(args.model).is_dir():
        return _run_compiled(args)
    graph = load_graph(args.model, _input_shapes(args))
    feeds, labels = load_feeds(args.input, graph)
    if is_quantized(graph):
        outputs, executor = run_integer_samples(graph, feeds), "integer reference (qcc.backends.numpy_int)"
    else:
        outputs, executor = run_samples_batched(graph, feeds), "float interpreter"
    print(f"executor: {executor}")
    _report_outputs(outputs, labels, "")
    if args.compare_onnxruntime:
        _compare_with_onnxruntime(args.model, graph, feeds, outputs)
    _write_outputs(outputs, args.output)
    return 0


def _report_outputs(outputs: dict[str, np.ndarray], labels: np.ndarray | None, what: str) -> None:
    """Print each output's shape and range, and top-1 accuracy when the data had labels."""
    for name, arr in outputs.items():
        print(f"{value_ref(name)}: {arr.dtype}{list(arr.shape)}  min {arr.min():.6g}  max {arr.max():.6g}")
    if labels is not None:
        first = next(iter(outputs.values()))
        top1 = float(np.mean(first.reshape(len(labels), -1).argmax(axis=1) == labels.reshape(-1)))
        print(f"top-1 accuracy: {100 * top1:.2f}% on {len(labels)} labelled samples{what}")


def _write_outputs(outputs: dict[str, np.ndarray], path: str | None) -> None:
    if path:
        with atomic_files(path) as (tmp,), open(tmp, "wb") as f:
            save_npz(f, outputs)
        print(f"wrote {path}")


def _compare_with_onnxruntime(model: str, graph: Graph, feeds: dict[str, np.ndarray], outputs: dict[str, np.ndarray]) -> None:
    from qcc.interp.interpreter import split_samples

    if not model.endswith(".onnx"):
        raise QccError("--compare-onnxruntime needs an .onnx model")
    try:
        import onnxruntime as ort
    except ImportError:
        raise QccError("--compare-onnxruntime needs onnxruntime (pip install onnxruntime)") from None
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    ref: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for sample in split_samples(graph, feeds):
        for n, arr in zip(names, session.run(None, sample)):
            ref[n].append(arr)
    for (name, ours), theirs in zip(outputs.items(), ref.values()):
        theirs_arr = np.concatenate(theirs) if len(theirs) > 1 else theirs[0]
        err = float(np.max(np.abs(ours.astype(np.float64) - theirs_arr.astype(np.float64))))
        scale = float(np.max(np.abs(theirs_arr))) or 1.0
        print(f"{value_ref(name)} vs onnxruntime: max abs error {err:.3g} (relative to max |output| {err / scale:.3g})")


DEFAULT_PIPELINE = "fold-constants,canonicalize,matmul-to-gemm,fold-batchnorm,fuse-activation,fuse-elementwise,dce,calibrate,quantize"


def _data(args: argparse.Namespace, option: str) -> Any:
    """The data behind --calib/--data: the path itself, or a folder of images read with --preprocess."""
    from qcc.calibration.images import data_source

    return data_source(getattr(args, option.lstrip("-"), None), getattr(args, "preprocess", None), option)


def _context(args: argparse.Namespace):  # -> PassContext
    from qcc.pipeline import PassContext, Progress
    from qcc.targets import get_target

    return PassContext(
        calibration=_data(args, "--calib"),
        # no --target: the graph's own scheme decides, else the default target (qcc.quant.scheme)
        target=get_target(args.target) if getattr(args, "target", None) else None,
        seed=getattr(args, "seed", 0),
        progress=Progress(),
        log=(lambda message: print(message, file=sys.stderr)) if getattr(args, "verbose", False) else (lambda message: None),
    )


def cmd_quantize(args: argparse.Namespace) -> int:
    from qcc.pipeline import PassManager, parse_pipeline
    from qcc.preflight import preflight_hook
    from qcc.recipes import DEFAULT_RECIPE, recipe_pipeline

    ctx = _context(args)
    text = _with_encodings(args.pipeline or recipe_pipeline(args.recipe or DEFAULT_RECIPE), args)
    ctx.preflight = preflight_hook(ctx.target, c_backend=False)  # refuse what cannot be quantized before calibrating
    passes = parse_pipeline(text)
    ctx.log(f"pipeline: {text}")
    graph = load_graph(args.model, _input_shapes(args))
    pm = PassManager(passes)
    graph = pm.run(graph, ctx)
    if args.timing:
        print(pm.timing_report(), file=sys.stderr)
    _write_graph(graph, args.output)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from qcc.interop.export import export

    written = export(args.model, args.output, args.format, args.float_model, _input_shapes(args))
    print("wrote " + " and ".join(str(p) for p in written))
    return 0


def _with_encodings(pipeline: str, args: argparse.Namespace) -> str:
    """--encodings: the pipeline's calibrate becomes load-encodings (ranges and weight grids from the
    file), and the passes that would change the file's model are left out (said on stderr)."""
    if not getattr(args, "encodings", None):
        return pipeline
    from qcc.passes.load_encodings import with_encodings
    from qcc.pipeline import format_pipeline, parse_pipeline

    passes, dropped = with_encodings(parse_pipeline(pipeline), args.encodings)
    if dropped:
        print(f"--encodings: the file's model already carries its weights; left out {', '.join(dropped)}", file=sys.stderr)
    return format_pipeline(passes)


def cmd_eval(args: argparse.Namespace) -> int:
    from qcc.accuracy import evaluate_quantized
    from qcc.backends.numpy_int.executor import integer_node
    from qcc.pipeline import Progress

    float_graph = load_graph(args.float_model, _input_shapes(args))
    quant_graph = load_graph(args.quant_model)
    report = evaluate_quantized(
        float_graph, quant_graph, _data(args, "--data"), quant_evaluator=integer_node, per_layer=args.per_layer, limit=args.limit,
        progress=lambda it, total: Progress().bar(it, total=total, desc="eval"),
    )
    print(report.render())
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from qcc.analysis.report import DEFAULT_SAMPLES, analyze, check_output_directory, write_report
    from qcc.recipes import DEFAULT_RECIPE

    check_output_directory(args.output)  # before minutes of work
    if args.calib is None:
        raise QccError("qcc analyze needs --calib (the data calibrate chooses ranges from)")
    report = analyze(args.model, _context(args), data=_data(args, "--data"), recipe=args.recipe or DEFAULT_RECIPE,
                     samples=DEFAULT_SAMPLES if args.samples is None else args.samples, input_shapes=_input_shapes(args),
                     workers=args.workers)
    names = write_report(report, args.output)
    print(f"output SQNR of the fake-quantized network: {report['output_sqnr_db']:.2f} dB on {report['samples']} samples" if report["output_sqnr_db"] is not None
          else f"no quantization noise on {report['samples']} samples")
    print(f"wrote {args.output}/: {', '.join(names)}" + ("" if any(n.endswith(".png") for n in names) else " (plots need: pip install 'qcc[analyze]')"))
    return 0


def cmd_targets(args: argparse.Namespace) -> int:
    from qcc.targets import DEFAULT_TARGET, TARGETS

    for name, t in TARGETS.items():
        default = " (default)" if name == DEFAULT_TARGET else ""
        print(f"{name}{default}: {t.description}")
        print(f"    weights {'/'.join(map(str, t.weight_bits))}-bit, activations {'/'.join(map(str, t.activation_bits))}-bit, "
              f"per-channel {'yes' if t.per_channel else 'no'}, rounding {t.rounding}, int64 accumulators {'yes' if t.wide_accumulator else 'no'}")
    return 0


def cmd_passes(args: argparse.Namespace) -> int:
    from qcc.pipeline import all_passes, options_of

    for name, cls in all_passes().items():
        print(f"{name}: {cls.summary()}")
        for opt, type_name, default in options_of(cls):
            print(f"    {opt}: {type_name} = {default}")
    return 0


def _command_words(text: str | None, option: str) -> list[str]:
    """A command line given as one option value, split as a shell would."""
    try:
        return shlex.split(text or "")
    except ValueError as e:
        raise QccError(f"{option} '{text}': {e}") from None


def cmd_compile(args: argparse.Namespace) -> int:
    from qcc.compile import compile_model

    ctx = _context(args)
    try:
        from qcc.recipes import DEFAULT_RECIPE, recipe_pipeline

        text = args.pipeline or recipe_pipeline(args.recipe or DEFAULT_RECIPE)
    except ImportError:  # a qcc without recipes: the default pipeline of qcc quantize
        text = args.pipeline or DEFAULT_PIPELINE
    text = _with_encodings(text, args)
    ctx.log(f"pipeline: {text}")
    log = (lambda message: print(message, file=sys.stderr)) if args.verbose else (lambda message: None)
    result = compile_model(args.model, args.output, calibration=ctx.calibration, pipeline=text, context=ctx, verify=args.verify,
                           input_shapes=_input_shapes(args), name=args.name, log=log, constant_form=args.c_constants,
                           stack_compiler=_command_words(args.stack_compiler, "--stack-compiler"))
    plan = result.program.plan
    print(f"wrote {result.out}/: {len(result.program.steps)} steps, arena {plan.arena_size} bytes "
          f"(lower bound {plan.lower_bound}), {result.seconds:.1f} s")
    if result.verified:
        print(f"C output byte-equal to the integer reference on {result.verified} calibration sample(s)")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from qcc.train.command import run

    return run(args, _write_graph)


def _run_compiled(args: argparse.Namespace) -> int:
    """qcc run OUT/: the compiled C model (built from OUT's sources, cached) on float inputs."""
    from qcc.backends.c.runtime import load_compiled
    from qcc.data import load_feeds
    from qcc.interp.interpreter import split_samples

    if args.compare_onnxruntime or getattr(args, "input_shape", None):
        raise QccError("--compare-onnxruntime and --input-shape apply to model files, not to a compiled folder")
    model = load_compiled(args.model)
    graph = load_graph(Path(args.model) / "model.qir")
    feeds, labels = load_feeds(args.input, graph)
    collected: dict[str, list[np.ndarray]] = {o.float_name: [] for o in model.info.outputs}
    for sample in split_samples(graph, feeds):
        for name, arr in model.run_float(sample).items():
            collected[name].append(arr)
    outputs = {name: np.concatenate(arrs) if len(arrs) > 1 else arrs[0] for name, arrs in collected.items()}
    print("executor: compiled C model (integer), float inputs quantized at its boundary")
    _report_outputs(outputs, labels, " (C integer model)")
    _write_outputs(outputs, args.output)
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, but usage mistakes are one line like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"qcc: error: {message} (see '{self.prog} --help')\n")


# ---- parser ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from qcc.backends.c.carrays import CONSTANT_FORMS

    parser = _Parser(prog="qcc", description="Quantizing compiler: float ONNX to bit-exact integer C.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    def calibration_and_target(p: argparse.ArgumentParser, calib: bool = True) -> None:
        if calib:
            p.add_argument("--calib", help="calibration data for calibrate and data-driven passes")
        preprocess(p)
        p.add_argument("--target", help="integer target (see qcc targets; default: the graph's own scheme, else generic-int8)")
        p.add_argument("--seed", type=int, default=0, help="seed for passes that draw random numbers")
        p.add_argument("-v", "--verbose", action="store_true", help="print what passes do")

    def preprocess(p: argparse.ArgumentParser) -> None:
        p.add_argument("--preprocess", metavar="SPEC", help="how images in a data folder become inputs, e.g. "
                       "'resize=256,crop=224,scale=1/255,mean=0.485,0.456,0.406,std=0.229,0.224,0.225' (docs/data.md)")

    def input_shape(p: argparse.ArgumentParser) -> None:
        p.add_argument("--input-shape", action="append", metavar="NAME=1x3x224x224", help="fix symbolic input dims (repeatable)")

    p = sub.add_parser("import", help="import an ONNX model into IR")
    p.add_argument("model")
    p.add_argument("-o", "--output", help="write IR here (.qir, plus .npz for large constants)")
    p.add_argument("--summary", action="store_true", help="print a summary instead of the IR")
    input_shape(p)
    p.set_defaults(fn=cmd_import)

    p = sub.add_parser("opt", help="run a pass pipeline on IR")
    p.add_argument("input")
    p.add_argument("-p", "--pipeline", required=True, help="e.g. 'fold-batchnorm,fuse-activation,dce'")
    p.add_argument("-o", "--output")
    p.add_argument("--print-ir-after", metavar="all|PASS[,PASS]", help="print IR to stderr after these passes")
    p.add_argument("--timing", action="store_true", help="print per-pass times to stderr")
    p.add_argument("--no-verify", action="store_true", help="skip the verifier after each pass")
    calibration_and_target(p)
    p.set_defaults(fn=cmd_opt)

    p = sub.add_parser("quantize", help="import, fold, calibrate and quantize a model to integer IR")
    p.add_argument("model", help=".onnx or .qir")
    p.add_argument("--calib", help="calibration data: .npz keyed by input name, or a folder of .npy or of images (see --preprocess)")
    p.add_argument("-o", "--output", required=True, help="the quantized IR (.qir, plus .npz)")
    p.add_argument("--encodings", help="take activation ranges from this AIMET-style encodings file instead of calibrating")
    how = p.add_mutually_exclusive_group()
    how.add_argument("-p", "--pipeline", help="a pass pipeline instead of a recipe")
    how.add_argument("--recipe", metavar="NAME[{OPTIONS}]",
                     help="fast (default), dfq or adaround, e.g. 'adaround{weights=4}', optionally after passes: "
                          "'compress{macs=0.5},fast'; see docs/recipes.md")
    p.add_argument("--timing", action="store_true", help="print per-pass times to stderr")
    calibration_and_target(p, calib=False)
    input_shape(p)
    p.set_defaults(fn=cmd_quantize)

    p = sub.add_parser("eval", help="accuracy of a quantized model (integer reference) against its float model")
    p.add_argument("float_model", help="the float model (.onnx or .qir)")
    p.add_argument("quant_model", help="the quantized model (.qir)")
    p.add_argument("--data", required=True, help=".npz keyed by input name (a 'label' array gives top-1), or a folder of .npy or of images")
    p.add_argument("--per-layer", action="store_true", help="also print the SQNR of every layer")
    p.add_argument("--limit", type=int, help="use at most this many samples")
    preprocess(p)
    input_shape(p)
    p.set_defaults(fn=cmd_eval)

    p = sub.add_parser("analyze", help="where quantization error comes from: per-layer sensitivity, tensor statistics, INT8 vs FP8 (HTML + JSON)")
    p.add_argument("model", help=".onnx or .qir (float)")
    p.add_argument("--data", help="samples to measure on (default: the calibration data)")
    p.add_argument("-o", "--output", required=True, metavar="REPORT", help="output folder: report.json, index.html, plots")
    p.add_argument("--recipe", metavar="NAME[{OPTIONS}]", help="the recipe whose passes before quantize prepare the model (default fast)")
    p.add_argument("--samples", type=int, help="samples measured (default 16; each layer reruns the network on them)")
    p.add_argument("--workers", type=int, default=1, help="local Dask worker processes for the sensitivity sweep (default 1: no Dask)")
    calibration_and_target(p)
    input_shape(p)
    p.set_defaults(fn=cmd_analyze)

    p = sub.add_parser("targets", help="list the integer targets")
    p.set_defaults(fn=cmd_targets)

    p = sub.add_parser("run", help="run a model on inputs: the float interpreter, the integer reference (quantized .qir) or the compiled C (OUT/)")
    p.add_argument("model", help=".onnx or .qir")
    p.add_argument("--input", required=True, help=".npy for a single-input model, or .npz keyed by input name")
    p.add_argument("-o", "--output", help="write outputs to this .npz")
    p.add_argument("--compare-onnxruntime", action="store_true", help="also run onnxruntime and print the difference")
    input_shape(p)
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser("compile", help="quantize a model, generate C, build it and check it bit for bit against the integer reference")
    p.add_argument("model", help=".onnx (or an already quantized .qir)")
    p.add_argument("--calib", help="calibration data: .npz keyed by input name, or a folder of .npy or of images (see --preprocess)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder (model.c, model.h, kernels, main.c, Makefile, model.qir, report.md)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("-p", "--pipeline", help="a pass pipeline instead of the default")
    how.add_argument("--recipe", metavar="NAME[{OPTIONS}]", help="a quantization recipe (see qcc quantize --help)")
    p.add_argument("--encodings", help="take activation ranges from this AIMET-style encodings file instead of calibrating")
    p.add_argument("--verify", type=int, default=4, metavar="N", help="calibration samples checked byte for byte against the integer reference (default 4)")
    p.add_argument("--name", help="C prefix: qcc_<name>_run (default: the model file's name)")
    p.add_argument("--c-constants", choices=CONSTANT_FORMS, default=CONSTANT_FORMS[0],
                   help="weights in model.c as string literals of at most 64 KB (default; fast to compile) or initializer lists")
    p.add_argument("--stack-compiler", metavar="'CC [FLAGS]'",
                   help="measure run()'s stack for this GCC and flags, e.g. 'arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -Os' "
                        "(default: the build's compiler, -O3)")
    calibration_and_target(p, calib=False)
    input_shape(p)
    p.set_defaults(fn=cmd_compile)

    p = sub.add_parser("export", help="write a quantized .qir as QDQ ONNX or as a float ONNX model plus AIMET-style encodings")
    p.add_argument("model", help="the quantized IR (.qir) that qcc quantize wrote")
    p.add_argument("--format", required=True, choices=("qdq", "encodings"),
                   help="qdq: one QDQ .onnx; encodings: .encodings JSON plus the float .onnx next to it")
    p.add_argument("-o", "--output", required=True, help="model_qdq.onnx, or model.encodings")
    p.add_argument("--float", dest="float_model", help="the float model it was quantized from (needed when tables replaced float functions)")
    input_shape(p)
    p.set_defaults(fn=cmd_export)
    p = sub.add_parser("train", help="quantization-aware training (LSQ, oscillation dampening or freezing) to a calibrated .qir")
    add_train_arguments(p)
    p.set_defaults(fn=cmd_train)

    p = sub.add_parser("passes", help="list the available passes and their options")
    p.set_defaults(fn=cmd_passes)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.fn(args))
    except QccError as e:
        if args.debug:
            raise
        print(f"qcc: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("qcc: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - a bug in qcc still gets one line, not a traceback
        if args.debug:
            raise
        print(f"qcc: internal error: {type(e).__name__}: {e} (rerun with --debug for a traceback)", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
