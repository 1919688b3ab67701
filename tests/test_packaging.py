"""Packaging: every package in the tree is installed, and passes/ and backends/ install as
qcc.passes and qcc.backends (docs/design.md §2)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPING = {"qcc": "qcc", "passes": "qcc.passes", "backends": "qcc.backends"}


def test_every_package_directory_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = set()
    for top, dotted in MAPPING.items():
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top).parts
            found.add(".".join((dotted, *rel)))
    assert found - listed == set(), f"packages missing from pyproject.toml: {sorted(found - listed)}"


def test_passes_and_backends_import_under_qcc() -> None:
    import qcc.backends
    import qcc.passes

    assert Path(qcc.passes.__file__).parent.name == "passes"
    assert Path(qcc.backends.__file__).parent.name == "backends"


def test_the_wheel_ships_passes_backends_and_grammar(tmp_path) -> None:
    """What `pip install .` installs (a non-editable wheel) has every package and data file."""
    import subprocess
    import sys
    import zipfile

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("qcc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("qcc/passes/quantize.py", "qcc/arith/fixedpoint.py", "qcc/targets.py", "qcc/ir/grammar.lark", "qcc/cli.py"):
        assert expected in names, expected
