"""AIMET-style quantization encodings: written from a quantized graph, read back as activation
and parameter (weight) quantization parameters.

Layout: AIMET's "Encoding Format Specification", version 0.6.1
(https://quic.github.io/aimet-pages/AimetDocs/quantsim/encoding_spec.html): ``activation_encodings``
and ``param_encodings`` map a tensor name to a list of encodings (one per tensor, or one per
channel), each with ``bitwidth``, ``dtype``, ``is_symmetric`` (the strings "True"/"False"),
``scale``, ``offset``, ``min`` and ``max``. AIMET's grid is unsigned: ``real = scale * (q + offset)``
for ``q`` in ``[0, 2^bitwidth - 1]``; qcc's signed ``real = scale * (q - zp)`` is the same grid with
``offset = -(zp + 2^(bitwidth-1))``. Activation names are the model's own (the names ``calibrate``
sees), so a file written here sets exactly the parameters ``calibrate`` chose. An int32 accumulator
output (``outputs=accumulator``, docs/arithmetic.md §3.20) has no activation grid a consumer could use
and no calibrated range: it is left out. Parameter names are the float model's constants; their
encodings fix the grids ``quantize`` puts those constants on, so the float model written next to
the file (its weights ``w_int * s_w``) gives back qcc's integers exactly.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qcc.errors import InputError
from qcc.ir.core import Graph, Value
from qcc.ir.types import QuantParams

SPEC_VERSION = "0.6.1"


ACCUMULATOR_BITS = 32  # an int32 accumulator output: no activation encoding (docs/arithmetic.md §3.20)


def activation_names(graph: Graph) -> dict[int, str]:
    """Each quantized activation's name as the float graph knows it: a graph input's integer copy
    (``quantize``) is the input, an output's integer value is the output it is dequantized to.
    Accumulator outputs are not activations of any grid and are left out."""
    names = {id(v): v.name for v in graph.values() if v.type.quant is not None and not v.is_const and v.type.quant.bits < ACCUMULATOR_BITS}
    for node in graph.nodes:
        if node.op == "quantize":
            names[id(node.result)] = node.inputs[0].name
        elif node.op == "dequantize" and node.result in graph.outputs and id(node.inputs[0]) in names:
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


@dataclass(frozen=True)
class Encodings:
    """What an encodings file gives: per-tensor activation parameters and per-constant parameter
    encodings (one entry, or one per channel: the axis is the layer's to say), by tensor name."""

    activations: dict[str, QuantParams]
    params: dict[str, ParamEncoding]


@dataclass(frozen=True)
class ParamEncoding:
    scales: tuple[float, ...]
    zero_points: tuple[int, ...]
    bits: int

    def params(self, axis: int | None) -> QuantParams:
        """The parameters along ``axis`` (None: per tensor, which needs exactly one entry)."""
        if axis is None:
            return QuantParams(self.scales[0], self.zero_points[0], None, self.bits)
        zero_point: int | tuple[int, ...] = self.zero_points if len(set(self.zero_points)) > 1 else self.zero_points[0]
        return QuantParams(self.scales, zero_point, axis, self.bits)


def read_encodings(path: str | Path) -> Encodings:
    """Activation and parameter encodings by tensor name; one InputError naming the file and the
    tensor for anything malformed."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"--encodings '{path}': cannot read it as JSON ({e})") from None
    table = doc.get("activation_encodings") if isinstance(doc, dict) else None
    if not isinstance(table, dict):
        raise InputError(f"--encodings '{path}': no 'activation_encodings' object")
    params = doc.get("param_encodings", {})
    if not isinstance(params, dict):
        raise InputError(f"--encodings '{path}': 'param_encodings' is not an object")
    activations = {name: _activation(path, name, entries) for name, entries in table.items()}
    return Encodings(activations, {name: _param(path, name, entries) for name, entries in params.items()})


def read_activation_encodings(path: str | Path) -> dict[str, QuantParams]:
    """Per-tensor activation parameters by tensor name."""
    return read_encodings(path).activations


def _fields(path: str | Path, kind: str, name: str, entry: Any) -> tuple[int, float, int]:
    """(bits, scale, qcc zero point) of one entry."""
    if not isinstance(entry, dict):
        raise InputError(f"--encodings '{path}': {kind} '{name}': an encoding must be an object")
    try:
        bits, scale, offset = int(entry["bitwidth"]), float(entry["scale"]), int(entry["offset"])
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"--encodings '{path}': {kind} '{name}' lacks a valid {e} field") from None
    if entry.get("dtype", "int") != "int" or not (math.isfinite(scale) and scale > 0):
        raise InputError(f"--encodings '{path}': {kind} '{name}': qcc takes int encodings with a scale > 0")
    return bits, scale, -offset - (1 << (bits - 1))


def _activation(path: str | Path, name: str, entries: Any) -> QuantParams:
    entry = entries[0] if isinstance(entries, list) and len(entries) == 1 else entries if isinstance(entries, dict) else None
    if not isinstance(entry, dict):
        raise InputError(f"--encodings '{path}': activation '{name}' must have exactly one encoding (per-tensor)")
    bits, scale, zero_point = _fields(path, "activation", name, entry)
    if bits not in (8, 16):
        raise InputError(f"--encodings '{path}': activation '{name}': qcc takes int encodings of 8 or 16 bits with a scale > 0")
    return QuantParams(scale, zero_point, None, bits)


def _param(path: str | Path, name: str, entries: Any) -> ParamEncoding:
    listed = entries if isinstance(entries, list) else [entries]
    if not listed:
        raise InputError(f"--encodings '{path}': parameter '{name}' has no encoding")
    fields = [_fields(path, "parameter", name, e) for e in listed]
    widths = {bits for bits, _, _ in fields}
    if len(widths) != 1 or not widths <= set(range(2, 17)):
        raise InputError(f"--encodings '{path}': parameter '{name}': every channel needs the same bit width, 2 to 16")
    return ParamEncoding(tuple(s for _, s, _ in fields), tuple(z for _, _, z in fields), widths.pop())
