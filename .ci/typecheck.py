"""Run mypy on qcc, including the `passes/` and `backends/` directories installed as `qcc.passes` / `qcc.backends`.

mypy has no equivalent of setuptools' `package-dir` and cannot follow the editable-install import hook, so
`mypy qcc passes backends` would check `passes` as a top-level package and fail on every `qcc.passes.*`
import. Instead this builds a symlink view of the installed layout (`build/mypy-view/qcc/{..., passes,
backends}`), checks `-p qcc` there with the repository's `[tool.mypy]` config, and prints findings with the
repository's own paths. Usage: `python .ci/typecheck.py` (exit status is mypy's).
"""

from __future__ import annotations

import shutil
import sys
from contextlib import chdir
from pathlib import Path

from mypy import api

REPO = Path(__file__).resolve().parent.parent
VIEW = REPO / "build" / "mypy-view"
MAPPED = {"passes": "passes", "backends": "backends"}  # qcc.<key> lives in <value>/, as in pyproject's package-dir


def build_view() -> None:
    """Recreate `build/mypy-view/qcc/` with one symlink per entry of `qcc/` plus the mapped subpackages."""
    shutil.rmtree(VIEW, ignore_errors=True)
    package = VIEW / "qcc"
    package.mkdir(parents=True)
    for entry in (REPO / "qcc").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for subpackage, directory in MAPPED.items():
        (package / subpackage).symlink_to(REPO / directory)


def repository_paths(report: str) -> str:
    """Rewrite view paths (`qcc/passes/x.py`) to the files' real places (`passes/x.py`)."""
    for subpackage, directory in MAPPED.items():
        report = report.replace(f"qcc/{subpackage}/", f"{directory}/")
    return report


def main() -> int:
    build_view()
    args = ["--config-file", str(REPO / "pyproject.toml"), "--cache-dir", str(REPO / "build" / "mypy-cache"), "-p", "qcc"]
    with chdir(VIEW):  # mypy resolves `-p qcc` against the current directory
        out, err, status = api.run(args)
    sys.stdout.write(repository_paths(out))
    sys.stderr.write(repository_paths(err))
    return status


if __name__ == "__main__":
    sys.exit(main())
