"""Where a compiled model's C spends its time: each step of ``run`` timed on its own, summed by kernel.

    python benchmarks/step_profile.py OUT/ [--calib calib.npz] [--runs 50] [--top 15]

OUT/ is a ``qcc compile`` output folder. The model runs once on a calibration sample (or zeros), then
each step is called through ``qcc_<name>_run_step`` ``--runs`` times on the arena that run left
behind; the median per step is reported, largest first, and the totals per kernel. Steps that work
in place (tables) see their own output as input on repeats, which changes no timing: their cost
does not depend on the values.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backends.c.runtime import CModel, load_compiled  # noqa: E402


def step_seconds(model: CModel, inputs: list[np.ndarray], runs: int) -> list[float]:
    """Median wall time of each step, after one full run has filled the arena."""
    ins = model._check(inputs, model.info.inputs, "input")
    outs = model.new_outputs()
    ptrs = model._pointers(ins, outs)
    arena = model.ffi.from_buffer(model.arena, require_writable=True)
    for index in range(len(model.info.steps)):
        model._run_step(index, *ptrs, arena)
    medians = []
    for index in range(len(model.info.steps)):
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            model._run_step(index, *ptrs, arena)
            times.append(time.perf_counter() - start)
        medians.append(statistics.median(times))
    return medians


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path, help="a qcc compile output folder")
    parser.add_argument("--calib", type=Path, help=".npz keyed by input name (first sample used); zeros if absent")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    model = load_compiled(args.out)
    if args.calib:
        data = np.load(args.calib)
        inputs = model.quantize_inputs([data[spec.float_name][:1].reshape(spec.shape) for spec in model.info.inputs])
    else:
        inputs = [np.zeros(spec.shape, dtype=spec.numpy) for spec in model.info.inputs]
    seconds = step_seconds(model, inputs, args.runs)
    total = sum(seconds)
    by_kernel: dict[str, float] = defaultdict(float)
    for step, s in zip(model.info.steps, seconds):
        by_kernel[step["kernel"]] += s
    print(f"sum of step medians: {1e3 * total:.3f} ms")
    print("\n| kernel | ms | share |\n|---|---:|---:|")
    for kernel, s in sorted(by_kernel.items(), key=lambda kv: -kv[1]):
        print(f"| {kernel} | {1e3 * s:.3f} | {100 * s / total:.1f}% |")
    print("\n| step | node | kernel | ms |\n|---:|---|---|---:|")
    ranked = sorted(zip(model.info.steps, seconds), key=lambda kv: -kv[1])
    for step, s in ranked[: args.top]:
        print(f"| {step['index']} | `{step['node']}` | {step['kernel']} | {1e3 * s:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
