"""Opening a model file of either kind qcc reads: ONNX (imported) or IR text (parsed)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from qcc.errors import QccError
from qcc.ir.core import Graph
from qcc.ir.parser import load
from qcc.limits import check_model_file
from qcc.onnx.importer import import_model


def load_graph(path: str | os.PathLike[str], input_shapes: Mapping[str, Sequence[int]] | None = None) -> Graph:
    """Import an ``.onnx`` file or load a ``.qir`` file (with its ``.npz`` sidecar)."""
    path = Path(path)
    check_model_file(path)
    if path.suffix == ".onnx":
        return import_model(path, input_shapes=input_shapes)
    if path.suffix == ".qir":
        if input_shapes:
            raise QccError("--input-shape applies to ONNX models; a .qir file has static shapes already")
        return load(path)
    raise QccError(f"'{path}': expected an .onnx or .qir file")


def parse_input_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """Parse ``name=1x3x224x224`` (the --input-shape syntax)."""
    name, eq, dims = text.rpartition("=")
    try:
        if not eq or not name:
            raise ValueError
        shape = tuple(int(d) for d in dims.lower().split("x"))
        if any(d <= 0 for d in shape):
            raise ValueError
    except ValueError:
        raise QccError(f"--input-shape '{text}': expected NAME=D1xD2x... with positive dims, e.g. input=1x3x224x224") from None
    return name, shape
