"""``qcc train``: QAT from an ONNX model to a calibrated ``.qir`` that ``qcc compile -p quantize``
turns into bit-exact integer C. Prints one line per epoch, then the integer reference's top-1 on the
validation data (the compiled C computes the same integers)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from qcc.backends.numpy_int.executor import run_integer_samples
from qcc.errors import InputError
from qcc.fileio import save_npz
from qcc.ir.core import Graph
from qcc.model_io import load_graph
from qcc.pipeline import PassContext, PassManager, parse_pipeline
from qcc.train.batches import LabelledSet
from qcc.train.config import TrainConfig
from qcc.train.model import TrainableGraph
from qcc.train.trainer import Trainer, choose_target, prepare, start_pipeline, top1


def run(args: argparse.Namespace, write_graph: Callable[[Graph, str], None]) -> int:
    config = TrainConfig(method=args.method, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, step_lr=args.step_lr,
                         optimizer=args.optimizer, seed=args.seed, dampen_weight=args.dampen_weight,
                         freeze_start=args.freeze_threshold[0], freeze_end=args.freeze_threshold[1])
    config.check()
    if not args.output.endswith(".qir"):
        raise InputError(f"-o '{args.output}': the trained graph is written as .qir")
    target = choose_target(args.weights, args.acts, args.target)
    pipeline = start_pipeline(args.init, args.weights, args.acts, per_channel=not args.per_tensor)
    ctx = PassContext(calibration=args.calib or args.data, target=target, seed=args.seed,
                      log=(lambda message: print(message)) if args.verbose else (lambda message: None))
    print(f"start: {pipeline} (target {target.name})")
    graph = load_graph(args.model)
    data = LabelledSet.load(args.data, graph)  # a bad data file fails before calibration runs
    val = LabelledSet.load(args.val, graph) if args.val else None
    graph = prepare(graph, pipeline, ctx)
    model = TrainableGraph(graph)
    if val is not None:
        print(f"epoch 0: val top-1 {100 * top1(model, val):.2f}% (fake-quant, before training)")
    reports = Trainer(model, config, log=print, progress=ctx.progress).fit(data, val)
    if args.history:
        save_npz(args.history, {k: np.array([np.nan if getattr(r, k) is None else getattr(r, k) for r in reports])
                                for k in ("epoch", "loss", "train_top1", "val_top1", "oscillations", "frozen")})
    write_graph(model.export(), args.output)
    if val is not None:
        print(f"integer reference top-1 on {val.path}: {100 * integer_top1(args.output, val, ctx):.2f}%")
    return 0


def integer_top1(path: str, data: LabelledSet, ctx: PassContext) -> float:
    """Load the written graph, quantize it as ``qcc compile -p quantize`` does, and score the
    integer reference on ``data``."""
    quantized = PassManager(parse_pipeline("quantize")).run(load_graph(path), ctx)
    (name,) = [v.name for v in quantized.inputs]
    logits = next(iter(run_integer_samples(quantized, {name: data.inputs}).values()))
    return float(np.mean(logits.reshape(len(data), -1).argmax(axis=1) == data.labels))
