"""``qcc analyze``: where a model's quantization error comes from, as numbers (report.json) and as
a page a person reads (index.html with plots).

The model is prepared and calibrated exactly as a recipe would before its ``quantize`` pass, so
the ranges, widths and overrides analysed are the ones a ``qcc compile`` with that recipe uses.
Then, on a few samples: per-layer sensitivity (qcc.analysis.sensitivity), per-tensor statistics
and the INT8-versus-FP8 comparison (qcc.analysis.tensor_stats), histograms of the tensors whose
quantization costs most, and, for a target with more than one weight width, the size/SQNR curve the
mixed-precision pass chooses from (qcc.analysis.precision_search).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qcc.analysis.distribute import check_workers, measurements
from qcc.analysis.html import render_html
from qcc.analysis.plots import PlotsUnavailable, write_plots
from qcc.analysis.precision_search import narrowing_curve
from qcc.analysis.sensitivity import ACTIVATION_WIDTHS, WEIGHT_WIDTHS, LayerSensitivity, SensitivityRunner, layer_sensitivity, quantized_results, scheme_grid
from qcc.analysis.tensor_stats import best_format, format_snrs, histogram, snr_db, tensor_stats
from qcc.arith.params import params_range
from qcc.calibration.source import CalibrationSet
from qcc.errors import InputError
from qcc.fileio import atomic_directory
from qcc.ir.core import Graph
from qcc.model_io import load_graph
from qcc.pipeline import Pass, PassContext, PassManager, parse_pipeline
from qcc.quant.fakequant import fake_quantize, fake_quantize_weight, is_weight_layer, weight_axis
from qcc.quant.lowering import Settings
from qcc.recipes import DEFAULT_RECIPE, recipe_pipeline

DEFAULT_SAMPLES = 16
WORST_TENSORS = 4  # histograms drawn for this many activations and this many weights


def calibrated_graph(model: str | os.PathLike[str], ctx: PassContext, recipe: str = DEFAULT_RECIPE,
                     input_shapes: Mapping[str, tuple[int, ...]] | None = None) -> tuple[Graph, str]:
    """The model after the recipe's passes up to (not including) ``quantize``, and that pipeline."""
    passes = [p for p in parse_pipeline(recipe_pipeline(recipe)) if not (isinstance(p, Pass) and p.name == "quantize")]
    graph = load_graph(model, dict(input_shapes or {}))
    return PassManager(passes).run(graph, ctx), ",".join(str(p) for p in passes)


def analyze(
    model: str | os.PathLike[str],
    ctx: PassContext,
    data: Any = None,
    recipe: str = DEFAULT_RECIPE,
    samples: int = DEFAULT_SAMPLES,
    input_shapes: Mapping[str, tuple[int, ...]] | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """The report's numbers (JSON-ready; a SQNR without any noise is None); the sensitivity
    measurements run on ``workers`` local Dask processes when more than 1."""
    if samples < 1:
        raise InputError(f"--samples {samples}: need at least 1 sample")
    check_workers(workers, "--workers")
    graph, pipeline = calibrated_graph(model, ctx, recipe, input_shapes)
    assert graph.scheme is not None  # calibrate writes it
    settings = Settings.from_scheme(graph.scheme, graph)
    source = data if data is not None else ctx.calibration
    feeds = [dict(f) for f in CalibrationSet(graph, source, samples)]
    runner = SensitivityRunner(graph, feeds)
    with measurements(runner, workers) as pool:
        sqnr_many = pool.sqnr_many if workers > 1 else None  # one worker: here, with a progress bar
        rows = layer_sensitivity(runner, settings, ctx.progress, sqnr_many)
        curve = narrowing_curve(graph, runner, settings, sqnr_many) if len(settings.target.weight_bits) > 1 else []
    tensors = _activation_tensors(graph, runner) + _weight_tensors(graph, settings)
    worst = _worst(rows, tensors, graph, settings)
    for tensor in tensors:
        tensor.pop("_array")
    report = {
        "model": str(model),
        "data": str(source),
        "samples": len(feeds),
        "pipeline": pipeline,
        "scheme": dict(graph.scheme.attrs()),
        "widths": {"weights": list(WEIGHT_WIDTHS), "activations": list(ACTIVATION_WIDTHS)},
        "output_sqnr_db": rows[-1].cumulative if rows else math.inf,
        "outputs_sqnr_db": {name: stats.sqnr_db for name, stats in runner.output_errors(scheme_grid(graph, settings)).items()},
        "layers": [_layer_json(r) for r in rows],
        "tensors": tensors,
        "worst": worst,
        "mixed_precision_curve": [{"narrowed": p.narrowed, "weight_bytes_fraction": p.size_fraction, "bops_fraction": p.bops_fraction,
                                   "sqnr_db": p.sqnr_db} for p in curve],
    }
    return _finite(report)


def _layer_json(row: LayerSensitivity) -> dict[str, Any]:
    return {
        "node": row.node, "op": row.op, "outputs": row.outputs,
        "weights_sqnr_db": {str(b): v for b, v in row.weights.items()} if row.weights is not None else None,
        "activations_sqnr_db": {str(b): v for b, v in row.activations.items()} if row.activations is not None else None,
        "cumulative_sqnr_db": row.cumulative,
    }


def _activation_tensors(graph: Graph, runner: SensitivityRunner) -> list[dict[str, Any]]:
    values = [v for v in graph.inputs if v.type.quant is not None and v.type.dtype.is_float]
    values += [r for n in graph.nodes for r in quantized_results(n)]
    out = []
    for value in values:
        assert value.type.quant is not None
        array = runner.float_value(value)
        clip = params_range(value.type.quant)
        snrs = format_snrs(array)
        out.append({"name": value.name, "kind": "activation", "node": value.producer.name if value.producer is not None else value.name,
                    "shape": list(value.type.static_shape), **tensor_stats(array, clip).as_dict(),
                    "scheme_grid_snr_db": snr_db(array, fake_quantize(array, value.type.quant)), "formats": snrs,
                    "best_format": best_format(snrs), "_array": array})
    return out


def _weight_tensors(graph: Graph, settings: Settings) -> list[dict[str, Any]]:
    out = []
    for node in graph.nodes:
        if not is_weight_layer(node):
            continue
        weight = node.inputs[1].const_array
        amax = float(abs(weight).max(initial=0.0))
        snrs = format_snrs(weight, channel_axis=weight_axis(node, True))
        s = settings.for_node(node)
        on_grid = fake_quantize_weight(weight, s.weight_bits, weight_axis(node, s.per_channel))
        out.append({"name": node.inputs[1].name, "kind": "weight", "node": node.name, "shape": list(weight.shape),
                    **tensor_stats(weight, (-amax, amax)).as_dict(), "scheme_grid_snr_db": snr_db(weight, on_grid), "formats": snrs,
                    "best_format": best_format(snrs), "_array": weight})
    return out


def _worst(rows: list[LayerSensitivity], tensors: list[dict[str, Any]], graph: Graph, settings: Settings) -> list[dict[str, Any]]:
    """Histograms of the activations and weights whose quantization alone (at the scheme's widths)
    costs the most output SQNR."""
    nodes = {n.name: n for n in graph.nodes}
    cost: dict[tuple[str, str], float] = {}
    for row in rows:
        node = nodes.get(row.node)
        s = settings.for_node(node) if node is not None else None
        act_bits = s.activation_bits if s is not None else settings.activation_bits
        if row.activations is not None:
            cost[("activation", row.node)] = row.activations[act_bits]
        if row.weights is not None and s is not None:
            cost[("weight", row.node)] = row.weights[s.weight_bits]
    worst = []
    for kind in ("activation", "weight"):
        ranked = sorted((t for t in tensors if t["kind"] == kind and (kind, t["node"]) in cost), key=lambda t: cost[(kind, t["node"])])
        for t in ranked[:WORST_TENSORS]:
            worst.append({"name": t["name"], "kind": kind, "node": t["node"], "sqnr_db": cost[(kind, t["node"])],
                          "clip_lo": t["clip_lo"], "clip_hi": t["clip_hi"], "histogram": histogram(t["_array"], (t["clip_lo"], t["clip_hi"]))})
    return worst


def _finite(obj: Any) -> Any:
    """JSON has no infinity: a noise-free SQNR (or any non-finite number) becomes null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def check_output_directory(out: str | os.PathLike[str]) -> Path:
    """-o must be a new directory or an earlier report: never replace a user's other files."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise InputError(f"-o '{out}': exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not (path / "report.json").is_file():
        raise InputError(f"-o '{out}': a non-empty directory that is not a qcc analyze report; choose a new one")
    return path


def write_report(report: dict[str, Any], out: str | os.PathLike[str]) -> list[str]:
    """report.json, the plots (when matplotlib is installed) and index.html, all or nothing; returns
    the names of the files written."""
    path = check_output_directory(out)
    with atomic_directory(path) as tmp:
        tmp.chmod(0o755)  # a report folder, not a private temporary one
        (tmp / "report.json").write_text(json.dumps(report, indent=1, allow_nan=False) + "\n")
        try:
            plots: dict[str, str] | None = write_plots(report, tmp)
        except PlotsUnavailable:
            plots = None
        (tmp / "index.html").write_text(render_html(report, plots))
        names = sorted(p.name for p in tmp.iterdir())
    return names
