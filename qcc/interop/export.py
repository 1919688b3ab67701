"""``qcc export``: a quantized graph written in another tool's format (docs/interop.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import onnx

from qcc.calibration.encodings import write_encodings
from qcc.compile import is_quantized
from qcc.errors import InputError
from qcc.fileio import atomic_files
from qcc.interop.float_model import strip_qdq
from qcc.interop.qdq import FROM_REFERENCE, export_qdq
from qcc.interop.reference import float_reference
from qcc.model_io import load_graph

FORMATS = ("qdq", "encodings")


def export(quantized_path: str, out: str, fmt: str, float_model: str | None = None,
           input_shapes: Mapping[str, Sequence[int]] | None = None) -> list[Path]:
    """Write the export; returns the files written."""
    if fmt not in FORMATS:
        raise InputError(f"--format '{fmt}': known formats are {', '.join(FORMATS)}")
    graph = load_graph(quantized_path)
    if not is_quantized(graph):
        raise InputError(f"'{quantized_path}' is not a quantized graph: export the .qir that qcc quantize wrote")
    needs_reference = any(n.op in FROM_REFERENCE for n in graph.nodes)
    reference = float_reference(float_model, input_shapes) if float_model and needs_reference else None
    qdq = export_qdq(graph, reference)
    path = Path(out)
    if fmt == "qdq":
        if path.suffix != ".onnx":
            raise InputError(f"-o '{out}': a QDQ export is an .onnx file")
        with atomic_files(path) as (tmp,):
            onnx.save(qdq, str(tmp))
        return [path]
    if path.suffix != ".encodings":
        raise InputError(f"-o '{out}': an encodings export is a .encodings file (the float model is written next to it as .onnx)")
    model_path = path.with_suffix(".onnx")
    if float_model and model_path.resolve() == Path(float_model).resolve():
        raise InputError(f"-o '{out}' would overwrite the float model '{float_model}' with the exported one; choose another name")
    with atomic_files(path, model_path) as (tmp_json, tmp_model):
        write_encodings(graph, tmp_json)
        onnx.save(strip_qdq(qdq), str(tmp_model))
    return [path, model_path]
