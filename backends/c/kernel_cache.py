"""The whole kernel library compiled into the kernel cache ahead of the first model.

``qcc compile`` compiles the library files a model calls on first use and caches them per
compiler and flags (``build.kernel_cache_dir``): the module objects at the host build's flags and
the stack call graphs at the standalone Makefile's. A machine's first compile therefore pays for
the library; this does it up front, for every file (a benchmark separates that one-time cost from
the per-model time, a CI image can bake it in).
"""

from __future__ import annotations

import time

from qcc.backends.c.build import STANDALONE_FLAGS, csrc_dir, find_compiler, kernel_objects, kernel_sources, module_flags
from qcc.backends.c.stack import callgraphs


def prebuild_kernels() -> float:
    """Compile every kernel library file into the kernel cache (no-op for what is there);
    returns the seconds it took."""
    start = time.perf_counter()
    sources = kernel_sources(sorted(p.name for p in csrc_dir().iterdir() if p.suffix in (".c", ".h")))
    cc = find_compiler()
    kernel_objects(sources, cc, module_flags(cc))
    callgraphs(sources, cc, STANDALONE_FLAGS)
    return time.perf_counter() - start
