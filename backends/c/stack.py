"""The worst-case stack of ``qcc_<model>_run``, measured by the compiler that builds it.

Method: every C file of the model (``model.c`` and the kernel sources it calls) is compiled with
GCC's ``-fstack-usage -fcallgraph-info=su``, which writes, per translation unit, each function's
frame size and the calls it makes. The figure is the heaviest path through that call graph from
``run`` (run -> step function -> kernel -> the helpers the kernel calls), each frame counted once
per path. Limits, stated in the report: the frames are static per function and per compiler and
flags (another compiler or -O level gives another figure); calls into the C library (memcpy,
memset) are leaves of unknown, small frame and are listed, not counted; a function whose frame is
``dynamic`` (a variable-length array, alloca) makes the figure a lower bound, and recursion makes
it undefined (the generated code has neither: its call depth is the fixed chain above). On x86-64
a leaf function may use 128 bytes below the stack pointer (the ABI's red zone) that no frame
figure includes; the chain gets that as one more entry. Interrupt handlers on the same stack come
on top.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from qcc.backends.c.build import BuildError, cache_dir, content_digest, is_kernel_file, kernel_cache_dir, library_header_key, run_compiler

STACK_FLAGS = ("-fstack-usage", "-fcallgraph-info=su")
RED_ZONES = {"x86_64": 128}
"""Bytes a leaf may use below the stack pointer, by the start of the compiler's target triple."""

_NODE = re.compile(r'node: \{ title: "(?P<title>[^"]+)" label: "(?P<label>[^"]*)"')
_EDGE = re.compile(r'edge: \{ sourcename: "(?P<source>[^"]+)" targetname: "(?P<target>[^"]+)"')
_FRAME = re.compile(r"\\n(\d+) bytes \(([a-z,]+)\)")


@dataclass(frozen=True)
class StackUsage:
    """The heaviest call chain from ``entry`` and what it was measured with."""

    bytes: int
    chain: tuple[tuple[str, int], ...]  # (function, frame bytes), entry first
    compiler: str
    flags: tuple[str, ...]
    bounded: bool = True                # False: a dynamic frame on the chain (then a lower bound)
    external: tuple[str, ...] = field(default=())  # library functions called, frames not known

    def describe(self) -> str:
        chain = " → ".join(f"{name} {size}" for name, size in self.chain)
        return f"{chain} (bytes per frame; {self.compiler}, {' '.join(self.flags)})"


@dataclass
class _Function:
    frame: int | None          # None: declared here, defined elsewhere (or a library function)
    dynamic: bool = False
    calls: list[str] = field(default_factory=list)


@cache
def compiler_identity(cc: tuple[str, ...]) -> tuple[str, str]:
    """('<first line of --version> for <target triple>', target triple): whose figure it is."""
    try:
        version = subprocess.run([*cc, "--version"], capture_output=True, text=True, timeout=60).stdout.splitlines()[0].strip()
        machine = subprocess.run([*cc, "-dumpmachine"], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, IndexError, subprocess.SubprocessError):
        return " ".join(cc), ""
    return (f"{version} for {machine}" if machine else version), machine


def callgraphs(sources: Mapping[str, str], cc: Sequence[str], flags: Sequence[str]) -> dict[str, str]:
    """The ``.ci`` text of every ``.c`` in ``sources``, compiled with ``flags`` (cached by content)."""
    # the library's .c files include only the library's headers: their graphs are keyed without
    # model.h and kept in the kernel cache, so they serve every model
    kernel = {name: is_kernel_file(name) for name in sources}
    headers = {True: library_header_key(sources),
               False: content_digest(*(f"{k}\n{v}" for k, v in sorted(sources.items()) if k.endswith(".h")))}
    roots = {library: (kernel_cache_dir() if library else cache_dir()) / "stack" for library in (True, False)}
    for root in roots.values():
        root.mkdir(exist_ok=True)
    result: dict[str, str] = {}
    todo = []
    for name, text in sorted(sources.items()):
        if name.endswith(".c"):
            key = content_digest(text, headers[kernel[name]], " ".join(cc), " ".join(flags))[:24]
            cached = roots[kernel[name]] / f"{Path(name).stem}-{key}.ci"
            if cached.exists():
                result[name] = cached.read_text()
            else:
                todo.append((name, cached))
    if todo:
        with tempfile.TemporaryDirectory(prefix="qcc-stack-") as tmp:
            work = Path(tmp)
            for name, text in sources.items():
                (work / name).write_text(text)
            for name, cached in todo:
                stem = Path(name).stem
                run_compiler([*cc, *flags, *STACK_FLAGS, "-c", name, "-o", f"{stem}.o"], work, f"{name} (stack usage)")
                ci = work / f"{stem}.ci"
                if not ci.is_file():
                    raise BuildError(f"the C compiler '{cc[0]}' wrote no call graph for {name} (-fcallgraph-info needs GCC 10 or later)")
                text = ci.read_text()
                staged = cached.with_name(f".{cached.name}.tmp")
                staged.write_text(text)
                staged.replace(cached)
                result[name] = text
    return result


def _parse(callgraphs: Mapping[str, str]) -> tuple[dict[tuple[str, str], _Function], dict[str, str]]:
    """Functions keyed by (file, name), and the file defining each name with external linkage."""
    functions: dict[tuple[str, str], _Function] = {}
    defined_in: dict[str, str] = {}
    for unit, text in callgraphs.items():
        for m in _NODE.finditer(text):
            frame = _FRAME.search(m["label"])
            function = _Function(int(frame[1]) if frame else None, bool(frame and frame[2] == "dynamic"))
            functions[(unit, m["title"])] = function
            if frame:
                defined_in.setdefault(m["title"], unit)
        for m in _EDGE.finditer(text):
            functions.setdefault((unit, m["source"]), _Function(None)).calls.append(m["target"])
    return functions, defined_in


def heaviest_chain(callgraphs: Mapping[str, str], entry: str) -> tuple[int, list[tuple[str, int]], bool, set[str]]:
    """(bytes, chain, bounded, library calls) of the heaviest path from ``entry``."""
    functions, defined_in = _parse(callgraphs)
    external: set[str] = set()
    memo: dict[tuple[str, str], tuple[int, list[tuple[str, int]], bool]] = {}

    def resolve(unit: str, name: str) -> tuple[str, str] | None:
        here = functions.get((unit, name))
        if here is not None and here.frame is not None:
            return (unit, name)
        if name in defined_in:
            return (defined_in[name], name)
        external.add(name)
        return None

    def walk(key: tuple[str, str], path: frozenset[tuple[str, str]]) -> tuple[int, list[tuple[str, int]], bool]:
        if key in path:
            raise BuildError(f"the generated code recurses through '{key[1]}': its stack has no static bound")
        if key in memo:
            return memo[key]
        function = functions[key]
        frame = function.frame or 0
        best: tuple[int, list[tuple[str, int]], bool] = (0, [], True)
        for callee in function.calls:
            target = resolve(key[0], callee)
            if target is not None:
                below = walk(target, path | {key})
                if below[0] > best[0]:
                    best = below
        memo[key] = (frame + best[0], [(key[1], frame), *best[1]], not function.dynamic and best[2])
        return memo[key]

    if entry not in defined_in:
        raise BuildError(f"no function '{entry}' in the measured sources")
    total, chain, bounded = walk((defined_in[entry], entry), frozenset())
    return total, chain, bounded, external


def measure_stack(sources: Mapping[str, str], entry: str, cc: Sequence[str], flags: Sequence[str]) -> StackUsage:
    """Compile ``sources`` (file name -> text: the model's .c/.h and its kernel library files) with
    ``cc flags`` and the stack-usage flags; the heaviest chain from ``entry``."""
    total, chain, bounded, external = heaviest_chain(callgraphs(sources, cc, flags), entry)
    compiler, machine = compiler_identity(tuple(cc))
    red_zone = next((size for arch, size in RED_ZONES.items() if machine.startswith(arch)), 0)
    if red_zone:
        chain.append(("red zone", red_zone))
    return StackUsage(total + red_zone, tuple(chain), compiler, tuple(flags), bounded, tuple(sorted(external)))
