"""Print what the fuzz targets ran (cases, outcomes, contract breaks) at the end of a session."""

from __future__ import annotations

from typing import Any

from tests.fuzz.harness import TALLY


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TALLY:
        terminalreporter.write_sep("-", "qcc fuzz cases")
        for key in sorted(TALLY):
            terminalreporter.write_line(f"{key}: {TALLY[key]}")
