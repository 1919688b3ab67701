"""The data objects an object file or image holds, by ``nm -S`` (the flash tests' yardstick)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from qcc.backends.c.build import find_compiler

DATA_SYMBOLS = set("rRdDbB")
"""nm's letters for read-only, initialized and zeroed data."""


def data_symbols(nm: str, obj: Path) -> dict[str, int]:
    """name -> size of every data object ``nm -S`` lists in ``obj``."""
    out = subprocess.run([nm, "-S", "--size-sort", str(obj)], capture_output=True, text=True, check=True).stdout
    symbols = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in DATA_SYMBOLS:
            symbols[parts[3]] = int(parts[1], 16)
    return symbols


def host_pointer_size() -> int:
    """sizeof(void *) for the build's C compiler (its predefined __SIZEOF_POINTER__)."""
    macros = subprocess.run([*find_compiler(), "-dM", "-E", "-x", "c", "-"], input="", capture_output=True, text=True, check=True).stdout
    return int(macros.split("__SIZEOF_POINTER__ ")[1].split()[0])
