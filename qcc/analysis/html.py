"""The analysis report as one self-contained HTML page: tables of every number in report.json and
the plots beside them (or a note saying how to get them). Numbers are printed by ``db`` and
``number`` only, so a test can check the page against the JSON."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

FORMAT_COLUMNS = ("INT8", "INT8-per-channel", "E2M5", "E3M4", "E4M3", "E5M2")
STYLE = """body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td:first-child,th:first-child{text-align:left}
.best{font-weight:bold}img{max-width:100%}.note{background:#ffd;padding:.5em}"""


def db(value: float | None) -> str:
    """A SQNR in dB; None is a measurement without any noise."""
    return "inf" if value is None else f"{value:.2f}"


def number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _row(cells: Iterable[str], header: bool = False) -> str:
    tag = "th" if header else "td"
    return "<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    return "<table>" + _row((html.escape(h) for h in header), header=True) + "".join(_row(r) for r in rows) + "</table>"


def _widths(sqnrs: Mapping[str, float | None] | None, widths: Sequence[int]) -> list[str]:
    return [db(sqnrs[str(b)]) if sqnrs is not None else "" for b in widths]


def layer_table(report: Mapping[str, Any]) -> str:
    w, a = report["widths"]["weights"], report["widths"]["activations"]
    header = ["node", "op", *(f"W{b}" for b in w), *(f"A{b}" for b in a), "cumulative"]
    rows = [
        [html.escape(layer["node"]), html.escape(layer["op"]), *_widths(layer["weights_sqnr_db"], w),
         *_widths(layer["activations_sqnr_db"], a), db(layer["cumulative_sqnr_db"])]
        for layer in report["layers"]
    ]
    return _table(header, rows)


def tensor_table(report: Mapping[str, Any]) -> str:
    header = ["tensor", "kind", "min", "max", "std", "kurtosis", "max|x|/std", "clip lo", "clip hi", "clipped %",
              "scheme grid dB", *(f"{f} dB" for f in FORMAT_COLUMNS), "best"]
    rows = []
    for t in report["tensors"]:
        formats = [db(t["formats"][f]["snr_db"]) if f in t["formats"] else "" for f in FORMAT_COLUMNS]
        rows.append([html.escape(t["name"]), t["kind"], number(t["min"]), number(t["max"]), number(t["std"]), number(t["kurtosis"]),
                     number(t["max_abs_over_std"]), number(t["clip_lo"]), number(t["clip_hi"]), number(100 * t["clipped_fraction"]),
                     db(t["scheme_grid_snr_db"]), *formats, f'<span class="best">{html.escape(t["best_format"])}</span>'])
    return _table(header, rows)


def worst_table(report: Mapping[str, Any]) -> str:
    rows = [[html.escape(w["name"]), w["kind"], html.escape(w["node"]), db(w["sqnr_db"]), number(w["clip_lo"]), number(w["clip_hi"])] for w in report["worst"]]
    return _table(["tensor", "kind", "node", "output SQNR alone (dB)", "clip lo", "clip hi"], rows)


def curve_table(report: Mapping[str, Any]) -> str:
    rows = [[html.escape(point["narrowed"] or "(all at the widest weights)"), number(point["weight_bytes_fraction"]), db(point["sqnr_db"])]
            for point in report["mixed_precision_curve"]]
    return _table(["layer narrowed", "weight bytes / 8-bit", "output SQNR (dB)"], rows)


def _curve_section(report: Mapping[str, Any], plots: Mapping[str, str] | None) -> str:
    if not report["mixed_precision_curve"]:
        return ""
    return "\n".join([
        "<h2>Weight size against output SQNR</h2>",
        "<p>Layers narrowed one width at a time, cheapest first (the noise each adds alone per byte saved), with the whole "
        "network measured after each step: the trade-off the <code>mixed-precision</code> pass chooses from "
        "(docs/mixed-precision.md).</p>",
        _plot(plots, "curve", "weight bytes against output SQNR"),
        curve_table(report),
    ])


def _plot(plots: Mapping[str, str] | None, key: str, alt: str) -> str:
    if plots is None or key not in plots:
        return ""
    return f'<p><img src="{html.escape(plots[key])}" alt="{html.escape(alt)}"></p>'


def render_html(report: Mapping[str, Any], plots: Mapping[str, str] | None) -> str:
    """The page; ``plots`` maps plot keys to PNG file names next to it (None: matplotlib is missing)."""
    scheme = report["scheme"]
    outliers = [t["name"] for t in report["tensors"] if t["best_format"] not in ("INT8", "INT8-per-channel")]
    note = "" if plots is not None else '<p class="note">Plots need matplotlib: <code>pip install "qcc[analyze]"</code>. The tables hold every number.</p>'
    parts = [
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>qcc analyze</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>qcc analyze: {html.escape(report['model'])}</h1>",
        f"<p>{report['samples']} samples of <code>{html.escape(report['data'])}</code>; pipeline <code>{html.escape(report['pipeline'])}</code>; "
        f"scheme weights={scheme['weights']} acts={scheme['acts']} per-channel={str(scheme['per_channel']).lower()} "
        f"calibration={html.escape(str(scheme['calibration']))} target={html.escape(str(scheme['target']))}.</p>",
        f"<p>Output SQNR of the fake-quantized network: <b>{db(report['output_sqnr_db'])} dB</b> (all outputs together; "
        + ", ".join(f"<code>{html.escape(name)}</code> {db(sqnr)} dB" for name, sqnr in report["outputs_sqnr_db"].items()) + ").</p>",
        note,
        "<h2>Per-layer sensitivity</h2>",
        "<p>Output SQNR (dB) with only this node's weights (W<i>b</i>) or only its outputs (A<i>b</i>) on a <i>b</i>-bit grid, "
        "everything else float; <i>cumulative</i>: every node up to this one quantized at the scheme's widths.</p>",
        _plot(plots, "sensitivity", "per-layer SQNR"),
        layer_table(report),
        "<h2>Worst tensors</h2>",
        _plot(plots, "histograms", "histograms of the worst tensors"),
        worst_table(report),
        _curve_section(report, plots),
        "<h2>Tensor statistics, INT8 versus FP8</h2>",
        "<p>Tensor SNR (dB) on each grid: the scheme's own grid (calibrated range and width; weights per the scheme's channel "
        "setting), then, to compare formats on equal terms, INT8 symmetric max-abs per tensor (and per output channel for weights), FP8 at its best "
        "exponent bias (round to nearest even, saturating; docs/analyze.md). Kurtosis is Pearson's (Gaussian 3). "
        f"Tensors where an FP8 format beats INT8 (outlier-heavy): {html.escape(', '.join(outliers)) if outliers else 'none'}.</p>",
        _plot(plots, "formats", "INT8 and FP8 SNR per tensor"),
        tensor_table(report),
        "</body></html>\n",
    ]
    return "\n".join(p for p in parts if p)
