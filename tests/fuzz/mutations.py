"""Hypothesis strategies that damage inputs: bytes, ONNX protobufs, IR text, arrays.

Each draws a short list of edits, so a failing case shrinks to the fewest edits that still break qcc.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import onnx
from hypothesis import strategies as st
from onnx import AttributeProto, helper

Draw = Callable[[st.SearchStrategy], object]

NASTY_INTS = (0, 1, -1, 2, 3, 7, 255, 2**15, 2**31 - 1, 2**31, -(2**31), 2**62, -(2**63))
NASTY_FLOATS = (0.0, -0.0, 1.0, -1.0, 1e-45, 1e38, -1e38, math.inf, -math.inf, math.nan)
NASTY_STRINGS = ("", "x", "NOTSET", "constant", "\u00e9", " ", "a,b", "{}", "%x")


@st.composite
def mutated_bytes(draw: Draw, data: bytes) -> bytes:
    """``data`` after 1-8 byte-level edits: overwrite, flip a bit, delete, insert, duplicate, truncate."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["set", "flip", "delete", "insert", "duplicate", "truncate"]))
        at = draw(st.integers(0, max(len(out) - 1, 0)))
        if kind == "set" and out:
            out[at] = draw(st.integers(0, 255))
        elif kind == "flip" and out:
            out[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "delete":
            del out[at:at + draw(st.integers(1, 16))]
        elif kind == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "duplicate":
            out[at:at] = out[at:at + draw(st.integers(1, 64))]
        elif kind == "truncate":
            del out[at:]
    return bytes(out)


def _attribute(draw: Draw, name: str) -> AttributeProto:
    kind = draw(st.sampled_from(["int", "ints", "float", "floats", "string", "none"]))
    if kind == "none":
        attribute = AttributeProto(name=name)  # no type, no value: what a byte flip can leave
        return attribute
    values = {
        "int": st.sampled_from(NASTY_INTS), "float": st.sampled_from(NASTY_FLOATS), "string": st.sampled_from(NASTY_STRINGS),
        "ints": st.lists(st.sampled_from(NASTY_INTS), max_size=6), "floats": st.lists(st.sampled_from(NASTY_FLOATS), max_size=6),
    }[kind]
    return helper.make_attribute(name, draw(values), attr_type={"ints": AttributeProto.INTS, "floats": AttributeProto.FLOATS}.get(kind))


@st.composite
def mutated_model(draw: Draw, data: bytes) -> bytes:
    """A structurally damaged model: 1-4 edits of the kinds a broken exporter or a hand edit makes."""
    model = onnx.ModelProto.FromString(data)
    g = model.graph
    names = [n for node in g.node for n in [*node.input, *node.output]] + [t.name for t in g.initializer] + [i.name for i in g.input]
    any_name = st.sampled_from(names + ["", "nowhere"]) if names else st.just("")
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from([
            "drop_initializer", "rewire", "set_attribute", "drop_attribute", "op_type", "input_dim", "elem_type", "opset",
            "drop_output", "drop_node", "node_outputs", "initializer_dims", "initializer_data", "duplicate_node",
        ]))
        node = g.node[draw(st.integers(0, len(g.node) - 1))] if g.node else None
        if kind == "drop_initializer" and g.initializer:
            del g.initializer[draw(st.integers(0, len(g.initializer) - 1))]
        elif kind == "rewire" and node is not None and node.input:
            node.input[draw(st.integers(0, len(node.input) - 1))] = draw(any_name)
        elif kind == "set_attribute" and node is not None:
            name = draw(st.sampled_from([a.name for a in node.attribute] + ["axis", "pads", "kernel_shape", "alpha", "mode"]))
            kept = [a for a in node.attribute if a.name != name]
            del node.attribute[:]
            node.attribute.extend([*kept, _attribute(draw, name)])
        elif kind == "drop_attribute" and node is not None and node.attribute:
            del node.attribute[draw(st.integers(0, len(node.attribute) - 1))]
        elif kind == "op_type" and node is not None:
            node.op_type = draw(st.sampled_from(["Relu", "Conv", "Gemm", "MatMul", "Add", "Concat", "Reshape", "Transpose", "Softmax",
                                                 "MaxPool", "Resize", "Slice", "Gather", "Split", "Pad", "BatchNormalization", "Unknown"]))
        elif kind == "input_dim" and g.input and g.input[0].type.tensor_type.shape.dim:
            dims = g.input[0].type.tensor_type.shape.dim
            dim = dims[draw(st.integers(0, len(dims) - 1))]
            if draw(st.booleans()):
                dim.dim_value = draw(st.sampled_from([0, 1, 2, 3, 1000, 2**31, 2**40]))
            else:
                dim.dim_param = draw(st.sampled_from(["N", "", "?"]))
        elif kind == "elem_type":
            target = draw(st.sampled_from(["input", "initializer"]))
            elem = draw(st.integers(0, 25))
            if target == "input" and g.input:
                g.input[0].type.tensor_type.elem_type = elem
            elif g.initializer:
                g.initializer[draw(st.integers(0, len(g.initializer) - 1))].data_type = elem
        elif kind == "opset":
            model.opset_import[0].version = draw(st.sampled_from([1, 7, 9, 11, 13, 17, 21, 99]))
        elif kind == "drop_output" and g.output:
            del g.output[draw(st.integers(0, len(g.output) - 1))]
        elif kind == "drop_node" and node is not None:
            g.node.remove(node)
        elif kind == "node_outputs" and node is not None:
            del node.output[:]
            node.output.extend(draw(st.lists(any_name, max_size=3)))
        elif kind == "initializer_dims" and g.initializer:
            tensor = g.initializer[draw(st.integers(0, len(g.initializer) - 1))]
            del tensor.dims[:]
            tensor.dims.extend(draw(st.lists(st.sampled_from([0, 1, 2, 3, 64, 2**31]), max_size=4)))
        elif kind == "initializer_data" and g.initializer:
            tensor = g.initializer[draw(st.integers(0, len(g.initializer) - 1))]
            if tensor.raw_data:
                tensor.raw_data = tensor.raw_data[: draw(st.integers(0, len(tensor.raw_data)))]
            else:
                del tensor.float_data[draw(st.integers(0, max(len(tensor.float_data), 1))):]
        elif kind == "duplicate_node" and node is not None:
            g.node.append(node)
    return model.SerializeToString()


@st.composite
def mutated_text(draw: Draw, text: str) -> str:
    """IR text after 1-4 line- or token-level edits."""
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "token", "insert", "truncate"]))
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        if not lines:
            break
        line = lines[i]
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, line)
        elif kind == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], line
        elif kind == "token":
            tokens = line.replace("(", " ( ").replace(")", " ) ").replace(",", " , ").replace("[", " [ ").replace("]", " ] ").split(" ")
            k = draw(st.integers(0, len(tokens) - 1))
            tokens[k] = draw(st.sampled_from([
                "0", "-1", "1e309", "nan", "inf", "-inf", "99999999999999999999", "2147483648", "0.5", "%x", "%y", "%nowhere",
                "i8", "i4", "i16", "i32", "f32", "f16", "u8", "bool", "q(", "axis=9", "scale=0", "zp=300", "dense<[]>", '"', "{", "}", "",
            ]))
            lines[i] = " ".join(tokens)
        elif kind == "insert":
            at = draw(st.integers(0, len(line)))
            lines[i] = line[:at] + draw(st.text(alphabet="%@{}[]()<>:=,.\"-x09 ", max_size=4)) + line[at:]
        elif kind == "truncate":
            lines = lines[:i] + [line[: draw(st.integers(0, len(line)))]]
    return "\n".join(lines) + "\n"


@st.composite
def bad_samples(draw: Draw, good: np.ndarray) -> np.ndarray:
    """Calibration or input samples that are wrong in one way: values, dtype, shape or size."""
    kind = draw(st.sampled_from(["nan", "inf", "huge", "dtype", "shape", "rank", "empty", "constant", "scalar", "fine"]))
    if kind in ("nan", "inf", "huge"):
        x = good.copy()
        where = draw(st.sampled_from(["one", "all"]))
        value = {"nan": np.nan, "inf": np.inf, "huge": np.float32(3e38)}[kind]
        if where == "one":
            x.reshape(-1)[draw(st.integers(0, x.size - 1))] = value
        else:
            x[...] = value
        return x
    if kind == "dtype":
        dtype = draw(st.sampled_from([np.float64, np.float16, np.int8, np.uint8, np.int64, np.bool_, np.complex64, "U3"]))
        return good.astype(dtype)
    if kind == "shape":
        axis = draw(st.integers(0, good.ndim - 1))
        return np.repeat(good, draw(st.sampled_from([2, 3])), axis=axis)
    if kind == "rank":
        return good.reshape(good.shape[0], -1) if draw(st.booleans()) else good[..., None]
    if kind == "empty":
        return good[:0]
    if kind == "constant":
        return np.zeros_like(good)
    if kind == "scalar":
        return np.float32(draw(st.sampled_from(NASTY_FLOATS)))
    return good
