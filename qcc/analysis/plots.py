"""PNG plots of an analysis report, drawn from report.json's numbers only (so the page and the JSON
cannot disagree). matplotlib is an optional extra (``pip install "qcc[analyze]"``): without it the
report still has its JSON and tables."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

FORMATS_PLOTTED = ("INT8", "E2M5", "E3M4", "E4M3", "E5M2")
NOISE_FREE_DB = 150.0  # where a noise-free (null) SQNR is drawn


class PlotsUnavailable(Exception):
    """matplotlib is not installed."""


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # headless: files only
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotsUnavailable from None
    return plt


headless_pyplot = _pyplot  # the public name: other modules' plots draw with the same headless setup


def _db(value: float | None) -> float:
    return NOISE_FREE_DB if value is None else value


def write_plots(report: dict[str, Any], directory: Path) -> dict[str, str]:
    """Write the plots into ``directory``; returns plot key -> file name."""
    plt = _pyplot()
    files = {"sensitivity": "sensitivity.png", "histograms": "histograms.png", "formats": "formats.png"}
    if report["mixed_precision_curve"]:
        files["curve"] = "curve.png"
    for key, draw in (("sensitivity", _sensitivity), ("histograms", _histograms), ("formats", _formats), ("curve", _curve)):
        if key not in files:
            continue
        fig = draw(plt, report)
        fig.savefig(directory / files[key], dpi=90)
        plt.close(fig)
    return files


def _sensitivity(plt: Any, report: dict[str, Any]) -> Any:
    """Bars: output SQNR with only a layer's weights / only its activations at the scheme's widths;
    line: the cumulative SQNR."""
    layers = report["layers"]
    wbits, abits = str(report["scheme"]["weights"]), str(report["scheme"]["acts"])
    x = np.arange(len(layers))
    weights = [_db(layer["weights_sqnr_db"][wbits]) if layer["weights_sqnr_db"] else math.nan for layer in layers]
    acts = [_db(layer["activations_sqnr_db"][abits]) if layer["activations_sqnr_db"] else math.nan for layer in layers]
    fig, ax = plt.subplots(figsize=(max(8, 0.45 * len(layers)), 5))
    ax.bar(x - 0.2, weights, 0.4, label=f"only weights, W{wbits}")
    ax.bar(x + 0.2, acts, 0.4, label=f"only activations, A{abits}")
    ax.plot(x, [_db(layer["cumulative_sqnr_db"]) for layer in layers], "k.-", label="cumulative (all up to here)")
    ax.set_xticks(x, [layer["node"][-24:] for layer in layers], rotation=75, ha="right", fontsize=7)
    ax.set_ylabel("output SQNR (dB)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _histograms(plt: Any, report: dict[str, Any]) -> Any:
    worst = report["worst"] or []
    cols = 4
    rows = max(1, math.ceil(len(worst) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, w in zip(axes.flat, worst):
        edges, counts = np.array(w["histogram"]["edges"]), np.array(w["histogram"]["counts"])
        ax.stairs(counts, edges, fill=True)
        ax.set_yscale("log")
        for bound in (w["clip_lo"], w["clip_hi"]):
            ax.axvline(bound, color="r", linestyle="--")
        ax.set_title(f"{w['kind']} {w['name'][-28:]}\nalone: {_db(w['sqnr_db']):.1f} dB", fontsize=8)
    for ax in list(axes.flat)[len(worst):]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def _formats(plt: Any, report: dict[str, Any]) -> Any:
    tensors = report["tensors"]
    x = np.arange(len(tensors))
    fig, ax = plt.subplots(figsize=(max(8, 0.3 * len(tensors)), 5))
    for name, marker in zip(FORMATS_PLOTTED, "os^vD"):
        ax.plot(x, [_db(t["formats"][name]["snr_db"]) for t in tensors], marker, label=name, markersize=4)
    ax.set_xticks(x, [("w " if t["kind"] == "weight" else "") + t["name"][-20:] for t in tensors], rotation=80, ha="right", fontsize=6)
    ax.set_ylabel("tensor SNR (dB)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _curve(plt: Any, report: dict[str, Any]) -> Any:
    points = report["mixed_precision_curve"]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([p["weight_bytes_fraction"] for p in points], [_db(p["sqnr_db"]) for p in points], "o-")
    ax.set_xlabel("weight bytes / all-8-bit weight bytes")
    ax.set_ylabel("output SQNR (dB)")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig
