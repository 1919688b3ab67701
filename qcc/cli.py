"""The ``qcc`` command line.

Every user mistake ends as one line ``qcc: error: ...`` and exit code 2 (1 for a failed check);
tracebacks only with ``--debug``. Outputs are written atomically.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from qcc.errors import QccError
from qcc.fileio import atomic_files
from qcc.ir.core import Graph
from qcc.ir.printer import to_text
from qcc.ir.serialize import save
from qcc.model_io import load_graph, parse_input_shape


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
    graph = pm.run(graph)
    if args.timing:
        print(pm.timing_report(), file=sys.stderr)
    if args.output:
        _write_graph(graph, args.output)
    else:
        sys.stdout.write(to_text(graph))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from qcc.data import load_feeds
    from qcc.interp.interpreter import run_samples

    graph = load_graph(args.model, _input_shapes(args))
    feeds, labels = load_feeds(args.input, graph)
    outputs = run_samples(graph, feeds)
    for name, arr in outputs.items():
        print(f"%{name}: {arr.dtype}{list(arr.shape)}  min {arr.min():.6g}  max {arr.max():.6g}")
    if labels is not None:
        first = next(iter(outputs.values()))
        top1 = float(np.mean(first.reshape(len(labels), -1).argmax(axis=1) == labels.reshape(-1)))
        print(f"top-1 accuracy: {100 * top1:.2f}% on {len(labels)} labelled samples")
    if args.compare_onnxruntime:
        _compare_with_onnxruntime(args.model, graph, feeds, outputs)
    if args.output:
        with atomic_files(args.output) as (tmp,):
            with open(tmp, "wb") as f:
                np.savez(f, **outputs)
        print(f"wrote {args.output}")
    return 0


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
        print(f"%{name} vs onnxruntime: max abs error {err:.3g} (relative to max |output| {err / scale:.3g})")


def cmd_passes(args: argparse.Namespace) -> int:
    from qcc.pipeline import all_passes, options_of

    for name, cls in all_passes().items():
        print(f"{name}: {cls.summary()}")
        for opt, type_name, default in options_of(cls):
            print(f"    {opt}: {type_name} = {default}")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, but usage mistakes are one line like every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"qcc: error: {message} (see '{self.prog} --help')\n")


# ---- parser ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="qcc", description="Quantizing compiler: float ONNX to bit-exact integer C.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

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
    p.set_defaults(fn=cmd_opt)

    p = sub.add_parser("run", help="run a model on inputs with the float interpreter")
    p.add_argument("model", help=".onnx or .qir")
    p.add_argument("--input", required=True, help=".npy for a single-input model, or .npz keyed by input name")
    p.add_argument("-o", "--output", help="write outputs to this .npz")
    p.add_argument("--compare-onnxruntime", action="store_true", help="also run onnxruntime and print the difference")
    input_shape(p)
    p.set_defaults(fn=cmd_run)

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
