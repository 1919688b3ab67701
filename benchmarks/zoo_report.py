"""The zoo's results: one Outcome per step of a model, SQNR against the float model, and the
Markdown table and JSON dump written from them.

Kept free of onnxruntime, qcc's executors and downloads so the default test suite checks it.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from qcc.analysis.error import ErrorStats  # noqa: E402

CELL_CHARS = 90  # an error longer than this is cut in the table; the failure list has all of it


@dataclass
class Outcome:
    """How one step of one model went: its wall time, and either its SQNR or a one-line error."""

    ok: bool
    seconds: float = 0.0
    error: str = ""
    sqnr_db: float | None = None
    per_output_db: dict[str, float] = field(default_factory=dict)
    note: str = ""


@dataclass
class ModelResult:
    name: str
    about: str
    outcomes: dict[str, Outcome] = field(default_factory=dict)


def sqnr_db(reference: Sequence[np.ndarray], values: Sequence[np.ndarray]) -> float:
    """10 log10(sum ref^2 / sum (ref - q)^2) over all arrays together (inf when equal)."""
    if len(reference) != len(values):
        raise ValueError(f"{len(reference)} reference outputs but {len(values)} quantized outputs")
    stats = ErrorStats()
    for ref, val in zip(reference, values):
        if np.shape(ref) != np.shape(val):
            raise ValueError(f"output shape {np.shape(val)} differs from the float model's {np.shape(ref)}")
        stats.add(np.asarray(ref), np.asarray(val))
    return stats.sqnr_db


def sqnr_outcome(names: Sequence[str], reference: Sequence[np.ndarray], values: Sequence[np.ndarray], seconds: float) -> Outcome:
    """Overall and per-output SQNR of one quantized model's outputs."""
    per_output = {name: sqnr_db([r], [v]) for name, r, v in zip(names, reference, values)}
    return Outcome(True, seconds, sqnr_db=sqnr_db(reference, values), per_output_db=per_output)


def one_line(text: str) -> str:
    """The message that says what went wrong: a `qcc: error:` line if there is one, else the last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("qcc: error:") or line.startswith("qcc: internal error:"):
            return line
    return lines[-1] if lines else "(no message)"


def _db(value: float | None) -> str:
    if value is None:
        return ""
    return "inf" if math.isinf(value) and value > 0 else f"{value:.1f}"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def cell(outcome: Outcome | None, failures: list[str], label: str) -> str:
    """One table cell: the SQNR (dB) and time, `ok` and time, or the cut error (full text appended
    to ``failures`` under ``label``)."""
    if outcome is None:
        return "—"
    if not outcome.ok:
        failures.append(f"- **{label}**: {_escape(outcome.error)}")
        short = outcome.error if len(outcome.error) <= CELL_CHARS else outcome.error[: CELL_CHARS - 1] + "…"
        return f"✗ {_escape(short)}"
    if outcome.sqnr_db is not None:
        return f"{_db(outcome.sqnr_db)} dB ({outcome.seconds:.1f} s)"
    return f"ok ({outcome.seconds:.1f} s)" + (f" {_escape(outcome.note)}" if outcome.note else "")


def markdown_table(results: Sequence[ModelResult], steps: Sequence[str]) -> str:
    """One row per model, one column per step (— where the step did not run); failures listed in
    full under the table."""
    failures: list[str] = []
    lines = ["| model | " + " | ".join(steps) + " |", "|---|" + "---|" * len(steps)]
    for result in results:
        cells = [cell(result.outcomes.get(step), failures, f"{result.name}, {step}") for step in steps]
        lines.append(f"| {result.name} | " + " | ".join(cells) + " |")
    if failures:
        lines += ["", "Failures in full:", "", *failures]
    return "\n".join(lines)


def per_output_lines(results: Sequence[ModelResult]) -> str:
    """Per-output SQNR of models with more than one output (the table shows the overall one)."""
    lines = []
    for result in results:
        for step, outcome in result.outcomes.items():
            if outcome.ok and len(outcome.per_output_db) > 1:
                parts = ", ".join(f"{name} {_db(db)}" for name, db in outcome.per_output_db.items())
                lines.append(f"- {result.name}, {step}: {parts} dB")
    return "\n".join(lines)


def to_json(results: Sequence[ModelResult], meta: dict[str, object]) -> str:
    def clean(value: object) -> object:  # JSON has no inf
        if isinstance(value, float) and math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean({"meta": meta, "models": [asdict(r) for r in results]}), indent=1)
