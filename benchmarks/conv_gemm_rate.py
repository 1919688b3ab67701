"""GMAC/s of qcc's int8 GEMM convolution on ResNet-50's convolution shapes, next to the core's peak.

    python benchmarks/conv_gemm_rate.py [--runs 20] [--acts 8|16] [--weights 8|4]

Each shape is one q.conv node (int8, 32-bit accumulators, per-channel requantization) lowered and
built like any model (cffi module, -O3 -march=native, plus $QCC_EXTRA_CFLAGS to pick another
vector path), timed by the median of ``--runs`` calls of its ``run`` (the Python call costs a few
microseconds; the smallest layer takes over 100). The rate counts useful MACs
(out_c * out_pixels * in_c * kh * kw), and the fraction is of the ``vpdpbusd`` peak that
benchmarks/peak_mac.py measures on the same core (512-bit, else 256-bit). ``--acts 16`` times the
int16 kernel (qcc_conv_gemm_s16, 64-bit accumulators), ``--weights 4`` 4-bit weights packed two per byte.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from peak_mac import measure  # noqa: E402
from qcc.backends.c import lower_graph  # noqa: E402
from qcc.backends.c.runtime import build_programs  # noqa: E402
from qcc.ir.ops import Tensor  # noqa: E402
from qcc.ir.types import DType, QuantParams, TensorType  # noqa: E402
from tests.backends.c.harness import act_type, single_node  # noqa: E402

# ResNet-50 v1 (224 x 224) convolutions that carry most of its MACs: (name, in_c, out_c, kernel, stride, input size)
SHAPES = [
    ("conv1 7x7/2", 3, 64, 7, 2, 224),
    ("res2 1x1 64->64", 64, 64, 1, 1, 56),
    ("res2 3x3 64", 64, 64, 3, 1, 56),
    ("res2 1x1 64->256", 64, 256, 1, 1, 56),
    ("res2 1x1 256->64", 256, 64, 1, 1, 56),
    ("res3 1x1/2 256->512", 256, 512, 1, 2, 56),
    ("res3 3x3 128", 128, 128, 3, 1, 28),
    ("res3 1x1 512->128", 512, 128, 1, 1, 28),
    ("res4 3x3 256", 256, 256, 3, 1, 14),
    ("res4 1x1 1024->256", 1024, 256, 1, 1, 14),
    ("res5 3x3 512", 512, 512, 3, 1, 7),
    ("res5 1x1 2048->512", 2048, 512, 1, 1, 7),
]


def conv_program(index: int, cin: int, cout: int, k: int, stride: int, size: int, acts: int = 8,
                 weights: int = 8) -> tuple[object, np.ndarray, int]:
    rng = np.random.default_rng(index)
    dtype, zp, (lo, hi) = (DType.I8, -5, (-128, 127)) if acts == 8 else (DType.I16, 0, (-32767, 32767))
    wmax = (1 << (weights - 1)) - 1
    x = rng.integers(lo, hi + 1, size=(1, cin, size, size)).astype(dtype.numpy)
    w = rng.integers(-wmax, wmax + 1, size=(cout, cin, k, k)).astype(np.int8)
    attrs = dict(strides=[stride, stride], pads=[k // 2] * 4, dilations=[1, 1], group=1, in_zp=zp, rounding="double",
                 acc_bits=32 if acts == 8 else 64, out_zp=0, qmin=lo, qmax=hi, dtype=dtype,
                 multiplier=Tensor(np.full(cout, 1 << 30, np.int32)), shift=Tensor(np.full(cout, -16 if acts == 8 else -8, np.int32)))
    g, _ = single_node("q.conv", [("x", (act_type(dtype, x.shape, zp), x)), ("w", w), ("b", np.zeros(cout, np.int32))], attrs)
    if weights == 4:  # a 4-bit weight constant: stored packed
        wv = g.nodes[0].inputs[1]
        wv.type = TensorType(wv.type.dtype, wv.type.shape, QuantParams(1.0, 0, None, 4))
    out = (size + 2 * (k // 2) - k) // stride + 1
    return lower_graph(g, f"conv{index}"), x, cout * out * out * cin * k * k


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--acts", type=int, choices=(8, 16), default=8, help="activation bits")
    parser.add_argument("--weights", type=int, choices=(8, 4), default=8, help="weight bits (4: packed two per byte)")
    args = parser.parse_args()
    peaks = measure(0.5, 3)
    peak = peaks.get("dpbusd512") or peaks.get("dpbusd256")
    built = [conv_program(i, *shape[1:], acts=args.acts, weights=args.weights) for i, shape in enumerate(SHAPES)]
    models = build_programs([program for program, _, _ in built])
    print(f"vpdpbusd peak: {peak:.1f} GMAC/s" if peak else "vpdpbusd peak: not available (no VNNI)")
    print(f"{'layer':22s} {'ms':>8s} {'GMAC/s':>8s} {'of peak':>8s}")
    total_macs = total_seconds = 0.0
    for (name, *_), (program, x, macs), model in zip(SHAPES, built, models):
        for _ in range(2):
            model.run([x])
        times = []
        for _ in range(args.runs):
            t0 = time.thread_time()
            model.run([x])
            times.append(time.thread_time() - t0)
        seconds = statistics.median(times)
        total_macs += macs
        total_seconds += seconds
        rate = macs / seconds * 1e-9
        print(f"{name:22s} {seconds * 1e3:8.3f} {rate:8.1f} {f'{rate / peak:.0%}' if peak else '-':>8s}")
    rate = total_macs / total_seconds * 1e-9
    print(f"{'all of the above':22s} {total_seconds * 1e3:8.3f} {rate:8.1f} {f'{rate / peak:.0%}' if peak else '-':>8s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
