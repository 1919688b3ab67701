"""Running one fuzz case through the CLI in-process and judging how it ended.

The contract every front door keeps (docs/reliability.md): a case ends in success (exit 0) or in one
line ``qcc: error: ...`` with exit 2 and the working folder exactly as it was. Anything else (an
internal error, another exit code, a traceback, a file written or left behind by a failed run, a
temporary folder left by a successful one) fails the test, and the case's folder and command line
are kept under ``tests/fuzz/failures/`` (gitignored) so it can be replayed with ``qcc``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shlex
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.strategies import SearchStrategy

from qcc.cli import main

FAILURES = Path(__file__).parent / "failures"
TALLY: Counter[str] = Counter()
"""Cases run and how they ended, per front door; printed at the end of the session (conftest)."""

SETTINGS = dict(deadline=None, suppress_health_check=list(HealthCheck), database=None)


def fast(cases: int):  # noqa: ANN201 - a hypothesis settings decorator
    """The slice of a fuzz target that runs in the default suite: few cases, the same ones every run."""
    return settings(max_examples=cases, derandomize=True, **SETTINGS)


def long_run(cases: int):  # noqa: ANN201
    """The long run of a fuzz target: fresh random cases every run (``QCC_FUZZ_CASES`` per target)."""
    return settings(max_examples=cases, derandomize=False, **SETTINGS)


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


def run_cli(argv: Sequence[str]) -> Outcome:
    """``qcc ARGV`` in this process (an order of magnitude faster than a subprocess)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as e:  # argparse: usage errors and --help
            code = e.code if isinstance(e.code, int) else 2
    return Outcome(code, out.getvalue(), err.getvalue())


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder`` with a digest of its content."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(folder.rglob("*"))
    }


def problems_of(outcome: Outcome, before: dict[str, str], after: dict[str, str], outputs: Sequence[str]) -> list[str]:
    """What broke the contract, or nothing."""
    found = []
    if "internal error" in outcome.stderr or "Traceback" in outcome.stderr:
        found.append(f"internal error: {outcome.stderr.strip()[-400:]}")
    elif outcome.code == 2:
        last = outcome.stderr.strip().splitlines()[-1:] or [""]
        if not last[0].startswith("qcc: error: "):
            found.append(f"exit 2 without a one-line 'qcc: error:' message: {outcome.stderr.strip()[-400:]!r}")
        if after != before:
            changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
            found.append(f"a failed run changed files: {changed}")
    elif outcome.code == 0:
        allowed = {o for name in outputs for o in (name, str(Path(name).with_suffix(".npz")))}
        strays = [k for k in after if k not in before and k.split("/")[0] not in allowed]
        if strays:
            found.append(f"a successful run left files it was not asked for: {strays}")
    else:
        found.append(f"exit {outcome.code}: {outcome.stderr.strip()[-400:]}")
    return found


def check_case(door: str, argv: Sequence[str], folder: Path, outputs: Sequence[str] = ()) -> Outcome:
    """Run ``qcc ARGV`` with the case's files in ``folder`` (the working directory the paths in
    ``argv`` point into); ``outputs`` are the names under ``folder`` a successful run may create."""
    before = snapshot(folder)
    outcome = run_cli(argv)
    found = problems_of(outcome, before, snapshot(folder), outputs)
    TALLY[f"{door} cases"] += 1
    TALLY[f"{door} " + ("ok" if outcome.code == 0 else "clean errors" if not found else "contract broken")] += 1
    if found:
        TALLY["files left behind" if any("changed files" in f or "left files" in f for f in found) else "internal errors"] += 1
        saved = save_reproducer(argv, folder, before, found)
        pytest.fail(f"{door}: {'; '.join(found)}\nreproducer: {saved}  (replay: cd {saved} && sh replay.sh)", pytrace=False)
    return outcome


def save_reproducer(argv: Sequence[str], folder: Path, before: dict[str, str], found: list[str]) -> Path:
    """Keep the case's input files and a replay script under tests/fuzz/failures/<digest>/."""
    digest = hashlib.sha256(("\0".join(argv) + "\0".join(sorted(before.values()))).encode()).hexdigest()[:12]
    dest = FAILURES / digest
    dest.mkdir(parents=True, exist_ok=True)
    for name in before:
        source = folder / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    command = " ".join(shlex.quote(a.replace(str(folder), ".")) for a in argv)
    (dest / "replay.sh").write_text(f"# {found[0][:200]}\nqcc --debug {command}\n")
    return dest


LONG_CASES = int(os.environ.get("QCC_FUZZ_CASES", "1500"))
"""Cases per fuzz target in the long run (``-m slow``); the default suite runs a fixed small slice."""


def fuzz_targets(fast_cases: int, **strategies: SearchStrategy) -> Callable[[Callable[..., None]], tuple[Callable[..., None], Callable[..., None]]]:
    """Turn one case body into its two tests: the fast slice and the long run (marked slow)."""

    def wrap(body: Callable[..., None]) -> tuple[Callable[..., None], Callable[..., None]]:
        return fast(fast_cases)(given(**strategies)(body)), pytest.mark.slow(long_run(LONG_CASES)(given(**strategies)(body)))

    return wrap
