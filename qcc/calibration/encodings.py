"""AIMET-style quantization encodings: written from a quantized graph, read back as activation
parameters.

Layout: AIMET's "Encoding Format Specification", version 0.6.1
(https://quic.github.io/aimet-pages/AimetDocs/quantsim/encoding_spec.html): ``activation_encodings``
and ``param_encodings`` map a tensor name to a list of encodings (one per tensor, or one per
channel), each with ``bitwidth``, ``dtype``, ``is_symmetric`` (the strings "True"/"False"),
``scale``, ``offset``, ``min`` and ``max``. AIMET's grid is unsigned: ``real = scale * (q + offset)``
for ``q`` in ``[0, 2^bitwidth - 1]``; qcc's signed ``real = scale * (q - zp)`` is the same grid with
``offset = -(zp + 2^(bitwidth-1))``. Activation names are the model's own (the names ``calibrate``
sees), so a file written here sets exactly the parameters ``calibrate`` chose.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from qcc.errors import InputError
from qcc.ir.core import Graph, Value
from qcc.ir.types import QuantParams

SPEC_VERSION = "0.6.1"


def activation_names(graph: Graph) -> dict[int, str]:
    """Each quantized activation's name as the float graph knows it: a graph input's integer copy
    (``quantize``) is the input, an output's integer value is the output it is dequantized to."""
    names = {id(v): v.name for v in graph.values() if v.type.quant is not None and not v.is_const}
    for node in graph.nodes:
        if node.op == "quantize":
            names[id(node.result)] = node.inputs[0].name
        elif node.op == "dequantize" and node.result in graph.outputs:
            names[id(node.inputs[0])] = node.result.name
    return names


def _entry(scale: float, zero_point: int, bits: int, symmetric: bool) -> dict[str, Any]:
    offset = -(zero_point + (1 << (bits - 1)))
    return {
        "bitwidth": bits, "dtype": "int", "is_symmetric": str(symmetric),
        "max": scale * ((1 << bits) - 1 + offset), "min": scale * offset, "offset": offset, "scale": scale,
    }


def _entries(q: QuantParams, symmetric: bool) -> list[dict[str, Any]]:
    if q.axis is None:
        return [_entry(q.scale_value(), q.zero_point_value(), q.bits, symmetric)]
    zps = q.zero_point if isinstance(q.zero_point, tuple) else (q.zero_point,) * len(q.scale)  # type: ignore[arg-type]
    return [_entry(s, int(z), q.bits, symmetric) for s, z in zip(q.scale, zps)]  # type: ignore[arg-type]


def _weights(graph: Graph) -> list[Value]:
    """Quantized constants below 32 bits (weights; int32 biases are derived, not encoded)."""
    return [c for c in graph.constants if c.type.quant is not None and c.type.quant.bits < 32]


def encodings_of(graph: Graph) -> dict[str, Any]:
    """The encodings document of a quantized graph."""
    names = activation_names(graph)
    activations = {names[id(v)]: _entries(v.quant, v.quant.bits > 8) for v in graph.values() if id(v) in names}
    params = {w.name: _entries(w.quant, True) for w in _weights(graph)}
    scheme = graph.scheme
    args: dict[str, Any] = {}
    if scheme is not None:
        args = {"activation_bitwidth": scheme.activation_bits, "dtype": "int", "is_symmetric": str(scheme.activation_bits > 8),
                "param_bitwidth": scheme.weight_bits, "per_channel_quantization": str(scheme.per_channel), "quant_scheme": scheme.calibration}
    return {"version": SPEC_VERSION, "activation_encodings": activations, "param_encodings": params, "excluded_layers": [], "quantizer_args": args}


def write_encodings(graph: Graph, path: Path) -> None:
    path.write_text(json.dumps(encodings_of(graph), indent=1) + "\n")


def read_activation_encodings(path: str | Path) -> dict[str, QuantParams]:
    """Per-tensor activation parameters by tensor name; one InputError naming the file and the
    tensor for anything malformed."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"--encodings '{path}': cannot read it as JSON ({e})") from None
    table = doc.get("activation_encodings") if isinstance(doc, dict) else None
    if not isinstance(table, dict):
        raise InputError(f"--encodings '{path}': no 'activation_encodings' object")
    return {name: _params(path, name, entries) for name, entries in table.items()}


def _params(path: str | Path, name: str, entries: Any) -> QuantParams:
    entry = entries[0] if isinstance(entries, list) and len(entries) == 1 else entries if isinstance(entries, dict) else None
    if not isinstance(entry, dict):
        raise InputError(f"--encodings '{path}': activation '{name}' must have exactly one encoding (per-tensor)")
    try:
        bits, scale, offset = int(entry["bitwidth"]), float(entry["scale"]), int(entry["offset"])
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"--encodings '{path}': activation '{name}' lacks a valid {e} field") from None
    if entry.get("dtype", "int") != "int" or bits not in (8, 16) or not (math.isfinite(scale) and scale > 0):
        raise InputError(f"--encodings '{path}': activation '{name}': qcc takes int encodings of 8 or 16 bits with a scale > 0")
    zero_point = -offset - (1 << (bits - 1))
    return QuantParams(scale, zero_point, None, bits)
