"""Reference kernels of the integer ops between two activations: q.div, q.max, q.min, q.lut2
(docs/arithmetic.md §3.14-§3.16). Registered in the same table as ``kernels.py``; operands
broadcast by numpy's rules, which are ONNX's."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qcc.arith.fixedpoint import requantize, rounding_divide
from qcc.backends.numpy_int.kernels import int_kernel
from qcc.ir.core import Node


def div_centered(a: np.ndarray, b: np.ndarray, multiplier: int, shift: int, out_zp: int, qmin: int, qmax: int) -> np.ndarray:
    """§3.14 on centered int64 operands: round(a * m / (b * 2^(31 - shift))) half away from zero,
    + out_zp, clamped; b == 0 saturates by the sign of a (0 / 0 gives out_zp)."""
    a, b = np.broadcast_arrays(np.asarray(a, np.int64), np.asarray(b, np.int64))
    nonzero = b != 0
    numerator = np.where(b < 0, -a, a) * np.int64(multiplier)
    denominator = np.where(nonzero, np.abs(b), 1) << np.int64(31 - shift)
    quotient = np.clip(rounding_divide(numerator, denominator) + out_zp, qmin, qmax)
    by_zero = np.where(a > 0, qmax, np.where(a < 0, qmin, min(max(out_zp, qmin), qmax)))
    return np.where(nonzero, quotient, by_zero)


@int_kernel("q.div")
def qdiv(node: Node, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    attrs = node.attrs
    a = xs[0].astype(np.int64) - attrs["a_zp"]
    b = xs[1].astype(np.int64) - attrs["b_zp"]
    out = div_centered(a, b, attrs["multiplier"], attrs["shift"], attrs["out_zp"], attrs["qmin"], attrs["qmax"])
    return [out.astype(attrs["dtype"].numpy)]


@int_kernel("q.max", "q.min")
def qmax_min(node: Node, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """§3.15: both operands requantized to the result's parameters (clamped), then compared."""
    attrs = node.attrs
    stage = (attrs["out_zp"], attrs["qmin"], attrs["qmax"], attrs["rounding"])
    a = requantize(xs[0].astype(np.int64) - attrs["a_zp"], attrs["a_multiplier"], attrs["a_shift"], *stage)
    b = requantize(xs[1].astype(np.int64) - attrs["b_zp"], attrs["b_multiplier"], attrs["b_shift"], *stage)
    pick = np.maximum if node.op == "q.max" else np.minimum
    return [pick(a, b).astype(attrs["dtype"].numpy)]


@int_kernel("q.lut2")
def qlut2(node: Node, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """§3.16: table[a + 128, b + 128] over the broadcast shape."""
    a, b = np.broadcast_arrays(xs[0].astype(np.int64) + 128, xs[1].astype(np.int64) + 128)
    return [node.attr("table").array[a, b].astype(np.int8)]
