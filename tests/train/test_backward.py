"""Every reverse-mode rule of qcc.train.backward against central finite differences (float64).

The forward pass is the float interpreter's kernel; the check is that the rule's vector-Jacobian
product with a random cotangent R equals d/dx sum(R * f(x)) measured numerically."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from qcc.interp.interpreter import evaluate
from qcc.ir.ops import get_op
from qcc.train.backward import BACKWARD, softmax_cross_entropy

EPS = 1e-6


def numeric_grad(op: str, operands: list[np.ndarray], attrs: dict[str, Any], index: int, cotangent: np.ndarray) -> np.ndarray:
    grad = np.zeros_like(operands[index])
    flat = operands[index].reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + EPS
        up = float(np.sum(evaluate(op, operands, attrs)[0] * cotangent))
        flat[i] = saved - EPS
        down = float(np.sum(evaluate(op, operands, attrs)[0] * cotangent))
        flat[i] = saved
        grad.reshape(-1)[i] = (up - down) / (2 * EPS)
    return grad


def check_op(op: str, operands: list[np.ndarray], attrs: dict[str, Any], differentiable: tuple[int, ...]) -> None:
    if op == "conv":
        attrs = {"dilations": [1, 1], **attrs}
    attrs = get_op(op).normalize_attrs(attrs, op)
    (y,) = evaluate(op, operands, attrs)
    cotangent = np.random.default_rng(1).standard_normal(y.shape)
    analytic = BACKWARD[op](attrs, operands, y, cotangent)
    for index in differentiable:
        expected = numeric_grad(op, operands, attrs, index, cotangent)
        got = analytic[index]
        assert got is not None and got.shape == operands[index].shape
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7, err_msg=f"{op} operand {index}")


def away_from(x: np.ndarray, points: tuple[float, ...], margin: float = 1e-3) -> np.ndarray:
    """Nudge values off the kinks of piecewise-linear ops so finite differences do not straddle them."""
    for p in points:
        near = np.abs(x - p) < margin
        x[near] = p + 2 * margin
    return x


RNG = np.random.default_rng(0)


def rand(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


@pytest.mark.parametrize(
    "attrs, channels_in, channels_out, group",
    [
        ({"strides": [1, 1], "pads": [1, 1, 1, 1]}, 3, 4, 1),
        ({"strides": [2, 2], "pads": [1, 0, 1, 1]}, 3, 4, 1),  # strided, asymmetric padding
        ({"strides": [1, 1], "pads": [1, 1, 1, 1], "group": 4}, 4, 4, 4),  # depthwise
        ({"strides": [2, 1], "pads": [0, 1, 1, 0], "group": 2, "dilations": [2, 1]}, 4, 6, 2),  # grouped, dilated
        ({"strides": [1, 1], "pads": [0, 0, 0, 0]}, 5, 3, 1),  # pointwise 1x1 below
    ],
)
def test_conv(attrs: dict[str, Any], channels_in: int, channels_out: int, group: int) -> None:
    kernel = 1 if attrs["pads"] == [0, 0, 0, 0] else 3
    operands = [rand(2, channels_in, 6, 5), rand(channels_out, channels_in // group, kernel, kernel), rand(channels_out)]
    check_op("conv", operands, attrs, (0, 1, 2))


def test_conv_with_fused_clamp() -> None:
    """The clamp bounds sit midway between neighbouring pre-activation values, so no value is
    within a finite-difference step of a kink and both sides of each bound are exercised."""
    x, w, b = rand(2, 3, 5, 5), rand(4, 3, 3, 3), rand(4)
    attrs = {"strides": [1, 1], "pads": [1, 1, 1, 1], "dilations": [1, 1]}
    (y,) = evaluate("conv", [x, w, b], get_op("conv").normalize_attrs(attrs, "conv"))
    ys = np.sort(y.reshape(-1))
    quarter = len(ys) // 4
    low, high = (ys[quarter] + ys[quarter + 1]) / 2, (ys[3 * quarter] + ys[3 * quarter + 1]) / 2
    check_op("conv", [x, w, b], {**attrs, "act_min": float(low), "act_max": float(high)}, (0, 1, 2))


@pytest.mark.parametrize("trans_a, trans_b, alpha, beta", [(False, True, 1.0, 1.0), (True, False, 0.5, 2.0)])
def test_gemm(trans_a: bool, trans_b: bool, alpha: float, beta: float) -> None:
    a = rand(4, 3) if trans_a else rand(3, 4)
    b = rand(5, 4) if trans_b else rand(4, 5)
    check_op("gemm", [a, b, rand(5)], {"trans_a": trans_a, "trans_b": trans_b, "alpha": alpha, "beta": beta}, (0, 1, 2))


def test_matmul_broadcasts_the_weight() -> None:
    check_op("matmul", [rand(2, 3, 4), rand(4, 5)], {}, (0, 1))


def test_add_and_mul_with_broadcasting() -> None:
    check_op("add", [rand(2, 3, 4, 4), rand(1, 3, 1, 1)], {}, (0, 1))
    check_op("mul", [rand(2, 3, 4, 4), rand(3, 1, 1)], {}, (0, 1))


def test_relu_and_clip() -> None:
    check_op("relu", [away_from(rand(3, 7), (0.0,))], {}, (0,))
    check_op("clip", [away_from(rand(3, 7), (-0.5, 0.5))], {"min": -0.5, "max": 0.5}, (0,))


def test_global_avg_pool_and_reshape() -> None:
    check_op("global_avg_pool", [rand(2, 3, 4, 5)], {}, (0,))
    check_op("reshape", [rand(2, 3, 1, 1)], {"shape": [2, 3]}, (0,))


def test_softmax_cross_entropy() -> None:
    logits, labels = rand(4, 10), np.array([3, 0, 9, 3])
    _, grad = softmax_cross_entropy(logits, labels)
    expected = np.zeros_like(logits)
    for i in range(logits.size):
        up, down = logits.copy(), logits.copy()
        up.reshape(-1)[i] += EPS
        down.reshape(-1)[i] -= EPS
        expected.reshape(-1)[i] = (softmax_cross_entropy(up, labels)[0] - softmax_cross_entropy(down, labels)[0]) / (2 * EPS)
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-8)


def test_sigmoid_hard_sigmoid_and_hard_swish() -> None:
    check_op("sigmoid", [rand(3, 7) * 3], {}, (0,))
    # hard-sigmoid's kinks are where alpha x + beta is 0 or 1: x = -2.5 and 2.5 at the defaults
    check_op("hard_sigmoid", [away_from(rand(4, 9) * 3, (-2.5, 2.5))], {}, (0,))
    check_op("hard_sigmoid", [away_from(rand(4, 9) * 3, (-1.0, 1.0))], {"alpha": 0.5, "beta": 0.5}, (0,))
    check_op("hard_swish", [away_from(rand(4, 9) * 4, (-3.0, 3.0))], {}, (0,))


@pytest.mark.parametrize(
    "attrs",
    [
        {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [0, 0, 0, 0]},
        {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [1, 1, 1, 1]},  # padded, overlapping windows
        {"kernel_shape": [3, 2], "strides": [2, 1], "pads": [1, 0, 0, 1], "dilations": [1, 2]},  # asymmetric, dilated
        {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [0, 0, 0, 0], "ceil_mode": True},  # windows past the edge
    ],
)
def test_max_pool_and_avg_pool(attrs: dict[str, Any]) -> None:
    attrs = {"dilations": [1, 1], "ceil_mode": False, **attrs}
    x = rand(2, 3, 5, 6)
    x.reshape(-1)[:] = RNG.permutation(x.size) * 0.01  # distinct values: each window has one maximum
    check_op("max_pool", [x], attrs, (0,))
    check_op("avg_pool", [rand(2, 3, 5, 6)], attrs, (0,))
    check_op("avg_pool", [rand(2, 3, 5, 6)], {**attrs, "count_include_pad": True}, (0,))


def test_batch_norm_inference_form() -> None:
    channels = 3
    x, gamma, beta, mean = rand(2, channels, 4, 4), rand(channels), rand(channels), rand(channels)
    var = RNG.uniform(0.5, 2.0, channels)
    check_op("batch_norm", [x, gamma, beta, mean, var], {"epsilon": 1e-5}, (0, 1, 2))
