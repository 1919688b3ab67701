"""The IR text case format used by tests/ir_cases/*.qir (one file per pass, named after it).

A file holds cases separated by a line ``// -----``. Each case is::

    // RUN: <pipeline text>
    <input IR>
    // EXPECT:
    <expected IR, exactly as the printer prints it>

or, for a pipeline that must refuse the input, ``// EXPECT-ERROR: <substring of the message>``
instead of the expected IR. Passes that need calibration data get it from lines
``// CALIB: <input name> = <list of samples>`` (a Python literal; each sample has the input's
shape); a ``// TARGET: <name>`` line runs the case for that target (default: the default target).
Lines starting with ``//`` elsewhere are comments, which the IR grammar also ignores.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CASES_DIR = Path(__file__).parent / "ir_cases"
SEPARATOR = "// -----"


@dataclass(frozen=True)
class IRCase:
    file: str
    index: int
    pipeline: str
    input: str
    expected: str | None
    error: str | None
    calibration: dict[str, np.ndarray] = field(default_factory=dict)
    target: str | None = None
    raw_input: str = ""  # the input section as written, comments included

    def calibration_samples(self) -> list[dict[str, np.ndarray]] | None:
        """The CALIB lines as one feed dict per sample (None if the case has none)."""
        if not self.calibration:
            return None
        n = len(next(iter(self.calibration.values())))
        return [{k: v[i] for k, v in self.calibration.items()} for i in range(n)]

    @property
    def id(self) -> str:
        return f"{self.file}#{self.index}"


def _strip_comments(lines: list[str]) -> str:
    return "\n".join(line for line in lines if not line.lstrip().startswith("//")).strip() + "\n"


def load_cases(path: Path) -> list[IRCase]:
    cases = []
    chunks = path.read_text().split(SEPARATOR + "\n")
    for index, chunk in enumerate(chunks):
        lines = chunk.strip().splitlines()
        if not lines:
            continue
        run = next((l for l in lines if l.startswith("// RUN:")), None)
        if run is None:
            raise ValueError(f"{path.name} case {index}: no '// RUN:' line")
        pipeline = run.removeprefix("// RUN:").strip()
        calibration = {}
        for line in lines:
            if line.startswith("// CALIB:"):
                name, _, samples = line.removeprefix("// CALIB:").partition("=")
                calibration[name.strip()] = np.array(ast.literal_eval(samples.strip()), dtype=np.float32)
        target = next((l.removeprefix("// TARGET:").strip() for l in lines if l.startswith("// TARGET:")), None)
        error = next((l.removeprefix("// EXPECT-ERROR:").strip() for l in lines if l.startswith("// EXPECT-ERROR:")), None)
        if error is not None:
            cases.append(IRCase(path.name, index, pipeline, _strip_comments(lines), None, error, calibration, target, "\n".join(lines) + "\n"))
            continue
        split = next(i for i, l in enumerate(lines) if l.strip() == "// EXPECT:")
        cases.append(IRCase(path.name, index, pipeline, _strip_comments(lines[:split]), _strip_comments(lines[split + 1 :]), None, calibration,
                            target, "\n".join(lines[:split]) + "\n"))
    return cases


def all_cases() -> list[IRCase]:
    return [case for path in sorted(CASES_DIR.glob("*.qir")) for case in load_cases(path)]
