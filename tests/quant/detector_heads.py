"""Detector heads that return boxes and class scores in one tensor, built with onnx.helper in the
shapes real detectors export (docs/arithmetic.md §3.17):

* ``yolov8_head``: ``concat([decoded boxes [1,4,N], sigmoid(class logits) [1,nc,N]], axis=1)``
  -> ``[1, 4+nc, N]`` (ultralytics YOLOv8).
* ``yolov5_head``: per scale, conv -> reshape ``[1,na,5+nc,H,W]`` -> transpose to ``[1,na,H,W,5+nc]``
  -> sigmoid -> xy = (2y - 0.5 + grid) * stride, wh = (2y)*(2y) * anchor (YOLOv5 writes the square
  as Pow, which has no integer lowering yet) -> concat on the last axis ->
  reshape ``[1, na*H*W, 5+nc]``; the scales concatenated on axis 1.
* ``yolox_head`` (ddddocr ``common_det.onnx``): per scale, ``concat([box conv, sigmoid(obj),
  sigmoid(cls)], axis=1)`` -> reshape ``[1, 5+nc, H*W]``; the scales concatenated on axis 2, then
  transposed to ``[1, N, 5+nc]``.

Boxes span pixels (0..640 for a 640-pixel image) and scores 0..1. The class logits are biased
negative, as in a trained detector where most anchors see background. ``features`` draws the
feature maps the head reads (unit-variance, as after a normalized backbone).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CHANNELS = 16       # feature channels entering the head
CLASSES = 3
IMAGE = 640


def _model(nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto], inputs: list[tuple[str, list[int]]], output: tuple[str, list[int]]) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "head",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(output[0], TensorProto.FLOAT, output[1])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.inits: list[onnx.TensorProto] = []

    def const(self, name: str, array: np.ndarray) -> str:
        dtype = np.int64 if np.asarray(array).dtype.kind == "i" else np.float32
        self.inits.append(numpy_helper.from_array(np.asarray(array, dtype=dtype), name))
        return name

    def conv_weights(self, name: str, out_c: int, bias: np.ndarray | float = 0.0) -> tuple[str, str]:
        w = self.rng.normal(size=(out_c, CHANNELS, 1, 1)) / np.sqrt(CHANNELS)
        b = np.broadcast_to(np.asarray(bias, np.float64), (out_c,)) + self.rng.normal(size=out_c) * 0.1
        return self.const(f"{name}_w", w), self.const(f"{name}_b", b)


def feature_shapes(kind: str) -> list[tuple[str, list[int]]]:
    """The head's inputs: one feature map per detection scale."""
    if kind == "yolov8":
        return [("p3", [1, CHANNELS, 8, 8])]
    return [("p3", [1, CHANNELS, 8, 8]), ("p4", [1, CHANNELS, 4, 4])]


def features(kind: str, samples: int, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{n: rng.normal(size=s).astype(np.float32) for n, s in feature_shapes(kind)} for _ in range(samples)]


def _grid(h: int, w: int) -> np.ndarray:
    """[H, W, 2] cell coordinates (x, y)."""
    ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return np.stack([xs, ys], axis=-1).astype(np.float32)


def yolov8_head(seed: int = 0) -> onnx.ModelProto:
    """Boxes: sigmoid of a conv scaled to the image and offset by the cell (0..640); scores:
    sigmoid of class logits; joined on axis 1."""
    b = _Builder(seed)
    (_, shape), = feature_shapes("yolov8")
    h, w = shape[2:]
    n = h * w
    bw, bb = b.conv_weights("box", 4)
    cw, cb = b.conv_weights("cls", CLASSES, bias=-4.0)
    cells = np.concatenate([_grid(h, w).reshape(n, 2).T] * 2, axis=0)[None] * (IMAGE / w)  # [1, 4, N]
    nodes = [
        helper.make_node("Conv", ["p3", bw, bb], ["box_raw"]),
        helper.make_node("Reshape", ["box_raw", b.const("box_shape", [1, 4, n])], ["box_flat"]),
        helper.make_node("Sigmoid", ["box_flat"], ["box_unit"]),
        helper.make_node("Mul", ["box_unit", b.const("cell_size", np.float32(IMAGE / w))], ["box_offset"]),
        helper.make_node("Add", ["box_offset", b.const("cells", cells)], ["boxes"]),
        helper.make_node("Conv", ["p3", cw, cb], ["cls_raw"]),
        helper.make_node("Reshape", ["cls_raw", b.const("cls_shape", [1, CLASSES, n])], ["cls_flat"]),
        helper.make_node("Sigmoid", ["cls_flat"], ["scores"]),
        helper.make_node("Concat", ["boxes", "scores"], ["output"], axis=1),
    ]
    return _model(nodes, b.inits, feature_shapes("yolov8"), ("output", [1, 4 + CLASSES, n]))


def yolov5_head(seed: int = 0, anchors: int = 2) -> onnx.ModelProto:
    """Two scales (strides 80 and 160 on a 640 image), `anchors` anchors each, decoded as YOLOv5
    exports it, concatenated on the last axis and then across scales on axis 1."""
    b = _Builder(seed)
    k = 5 + CLASSES
    per_scale = []
    nodes: list[onnx.NodeProto] = []
    for s, (name, shape) in enumerate(feature_shapes("yolov5")):
        h, w = shape[2:]
        stride = IMAGE / w
        bias = np.tile(np.array([0.0] * 4 + [-3.0] + [-4.0] * CLASSES), anchors)
        cw, cb = b.conv_weights(f"det{s}", anchors * k, bias=bias)
        grid = (_grid(h, w) - 0.5)[None, None]  # [1, 1, H, W, 2]
        anchor = (np.array([[1.0, 1.5], [2.0, 1.0]])[:anchors] * stride)[None, :, None, None, :]  # [1, na, 1, 1, 2]
        p = f"s{s}_"
        nodes += [
            helper.make_node("Conv", [name, cw, cb], [p + "raw"]),
            helper.make_node("Reshape", [p + "raw", b.const(p + "shape5", [1, anchors, k, h, w])], [p + "r5"]),
            helper.make_node("Transpose", [p + "r5"], [p + "t5"], perm=[0, 1, 3, 4, 2]),
            helper.make_node("Sigmoid", [p + "t5"], [p + "y"]),
            helper.make_node("Slice", [p + "y", b.const(p + "xy0", [0]), b.const(p + "xy1", [2]), b.const(p + "ax", [4])], [p + "xy_u"]),
            helper.make_node("Slice", [p + "y", b.const(p + "wh0", [2]), b.const(p + "wh1", [4]), p + "ax"], [p + "wh_u"]),
            helper.make_node("Slice", [p + "y", b.const(p + "c0", [4]), b.const(p + "c1", [k]), p + "ax"], [p + "conf"]),
            helper.make_node("Mul", [p + "xy_u", b.const(p + "two", np.float32(2.0))], [p + "xy2"]),
            helper.make_node("Add", [p + "xy2", b.const(p + "grid", grid)], [p + "xyg"]),
            helper.make_node("Mul", [p + "xyg", b.const(p + "stride", np.float32(stride))], [p + "xy"]),
            helper.make_node("Mul", [p + "wh_u", p + "two"], [p + "wh2"]),
            helper.make_node("Mul", [p + "wh2", p + "wh2"], [p + "whp"]),  # YOLOv5 writes Pow(., 2)
            helper.make_node("Mul", [p + "whp", b.const(p + "anchor", anchor)], [p + "wh"]),
            helper.make_node("Concat", [p + "xy", p + "wh", p + "conf"], [p + "dec"], axis=-1),
            helper.make_node("Reshape", [p + "dec", b.const(p + "shape3", [1, anchors * h * w, k])], [p + "out"]),
        ]
        per_scale.append((p + "out", anchors * h * w))
    nodes.append(helper.make_node("Concat", [o for o, _ in per_scale], ["output"], axis=1))
    total = sum(n for _, n in per_scale)
    return _model(nodes, b.inits, feature_shapes("yolov5"), ("output", [1, total, k]))


def yolox_head(seed: int = 0) -> onnx.ModelProto:
    """ddddocr's common_det head: per scale [box regression, sigmoid(objectness), sigmoid(classes)]
    on axis 1, flattened, scales joined on axis 2, transposed to [1, N, 5+nc]."""
    b = _Builder(seed)
    k = 5 + CLASSES
    nodes: list[onnx.NodeProto] = []
    flats = []
    for s, (name, shape) in enumerate(feature_shapes("yolox")):
        h, w = shape[2:]
        p = f"s{s}_"
        rw, rb = b.conv_weights(p + "reg", 4)
        ow, ob = b.conv_weights(p + "obj", 1, bias=-3.0)
        cw, cb = b.conv_weights(p + "cls", CLASSES, bias=-4.0)
        reg_scale = b.const(p + "reg_scale", np.float32(8.0 * (s + 1)))  # box regressions in grid units
        nodes += [
            helper.make_node("Conv", [name, rw, rb], [p + "reg_raw"]),
            helper.make_node("Mul", [p + "reg_raw", reg_scale], [p + "reg"]),
            helper.make_node("Conv", [name, ow, ob], [p + "obj_raw"]),
            helper.make_node("Sigmoid", [p + "obj_raw"], [p + "obj"]),
            helper.make_node("Conv", [name, cw, cb], [p + "cls_raw"]),
            helper.make_node("Sigmoid", [p + "cls_raw"], [p + "cls"]),
            helper.make_node("Concat", [p + "reg", p + "obj", p + "cls"], [p + "cat"], axis=1),
            helper.make_node("Reshape", [p + "cat", b.const(p + "shape", [1, k, h * w])], [p + "flat"]),
        ]
        flats.append((p + "flat", h * w))
    nodes += [
        helper.make_node("Concat", [f for f, _ in flats], ["joined"], axis=2),
        helper.make_node("Transpose", ["joined"], ["output"], perm=[0, 2, 1]),
    ]
    total = sum(n for _, n in flats)
    return _model(nodes, b.inits, feature_shapes("yolox"), ("output", [1, total, k]))


HEADS = {"yolov8": yolov8_head, "yolov5": yolov5_head, "yolox": yolox_head}


def score_part(kind: str, output: np.ndarray) -> np.ndarray:
    """The class-score entries of a head's output (objectness and classes for v5/YOLOX)."""
    if kind == "yolov8":
        return output[:, 4:, :]
    return output[..., 4:]


def box_part(kind: str, output: np.ndarray) -> np.ndarray:
    if kind == "yolov8":
        return output[:, :4, :]
    return output[..., :4]
