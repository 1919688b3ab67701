"""A tiny conv classifier and a learnable labelled data set, built in code for the QAT tests.

Conv 3x3 (+ BatchNormalization + Clip 0..6, the MobileNet spelling), a depthwise conv, a residual
Add, global average pooling, Flatten and Gemm: the op set of the example model, in a model that
trains in a second. The label is the direction of a stroke, which the random initial weights do
not know."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIZE = 6
CLASSES = 4


def tiny_classifier(seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)

    def const(name: str, array: np.ndarray) -> onnx.TensorProto:
        return numpy_helper.from_array(array.astype(np.float32), name)

    inits = [
        const("w1", rng.standard_normal((4, 1, 3, 3)) * 0.5),
        const("gamma", 1 + 0.1 * rng.standard_normal(4)), const("beta", 0.1 * rng.standard_normal(4)),
        const("mean", 0.1 * rng.standard_normal(4)), const("var", 1 + 0.1 * rng.random(4)),
        const("lo", np.array(0.0)), const("hi", np.array(6.0)),
        const("wd", rng.standard_normal((4, 1, 3, 3)) * 0.5), const("bd", 0.1 * rng.standard_normal(4)),
        const("wf", rng.standard_normal((CLASSES, 4)) * 0.5), const("bf", np.zeros(CLASSES)),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "gamma", "beta", "mean", "var"], ["b1"]),
        helper.make_node("Clip", ["b1", "lo", "hi"], ["r1"]),
        helper.make_node("Conv", ["r1", "wd", "bd"], ["d1"], pads=[1, 1, 1, 1], group=4),
        helper.make_node("Add", ["r1", "d1"], ["s1"]),
        helper.make_node("GlobalAveragePool", ["s1"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["logits"], transB=1),
    ]
    graph = helper.make_graph(
        nodes, "tiny_classifier",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, SIZE, SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, CLASSES])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def stroke_data(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noisy images of one short stroke at a random place; the label is its direction (horizontal,
    vertical, diagonal, anti-diagonal), which 3x3 filters see and global pooling keeps."""
    rng = np.random.default_rng(seed)
    x = 0.2 * rng.random((count, 1, SIZE, SIZE)).astype(np.float32)
    labels = rng.integers(0, CLASSES, count)
    steps = [(0, 1), (1, 0), (1, 1), (1, -1)]
    for image, label in zip(x, labels):
        dr, dc = steps[int(label)]
        r, c = rng.integers(1, SIZE - 2), rng.integers(1, SIZE - 2)
        for k in (-1, 0, 1):
            image[0, r + k * dr, c + k * dc] = 1.0
    return x, labels.astype(np.int64)


def write_files(folder: Path) -> tuple[Path, Path, Path]:
    """model.onnx, train.npz and val.npz in ``folder``."""
    model, train, val = folder / "model.onnx", folder / "train.npz", folder / "val.npz"
    onnx.save(tiny_classifier(), model)
    x, y = stroke_data(96, seed=1)
    np.savez(train, x=x, label=y)
    x, y = stroke_data(48, seed=2)
    np.savez(val, x=x, label=y)
    return model, train, val
