"""The IR text case format used by tests/ir_cases/*.qir (one file per pass, named after it).

A file holds cases separated by a line ``// -----``. Each case is::

    // RUN: <pipeline text>
    <input IR>
    // EXPECT:
    <expected IR, exactly as the printer prints it>

or, for a pipeline that must refuse the input, ``// EXPECT-ERROR: <substring of the message>``
instead of the expected IR. Lines starting with ``//`` elsewhere are comments.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
        error = next((l.removeprefix("// EXPECT-ERROR:").strip() for l in lines if l.startswith("// EXPECT-ERROR:")), None)
        if error is not None:
            cases.append(IRCase(path.name, index, pipeline, _strip_comments(lines), None, error))
            continue
        split = next(i for i, l in enumerate(lines) if l.strip() == "// EXPECT:")
        cases.append(IRCase(path.name, index, pipeline, _strip_comments(lines[:split]), _strip_comments(lines[split + 1 :]), None))
    return cases


def all_cases() -> list[IRCase]:
    return [case for path in sorted(CASES_DIR.glob("*.qir")) for case in load_cases(path)]
