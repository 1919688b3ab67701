"""Building generated C into a Python extension module with cffi, cached by content.

The module is cffi's API-mode wrapper (``FFI.emit_c_code``) compiled together with the model
sources and the kernel library by the system C compiler, in a temporary directory; the finished
shared object moves into the cache under a name derived from the SHA-256 of everything that went
into it (sources, flags, compiler, Python ABI). Building the same sources again is a file lookup.
Kernel library objects are cached the same way in a cache of their own (``kernel_cache_dir``), so
the library is compiled once per compiler and flags, not once per model.

No compiler, or a compile error, is one ``QccError`` naming the problem.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from qcc.errors import QccError

BUILD_FLAGS = ("-std=c99", "-O3", "-fPIC", "-fno-strict-aliasing")
STANDALONE_FLAGS = ("-std=c99", "-O3")
"""The generated Makefile's language and optimisation flags (its CFLAGS add warnings only)."""
WARNING_FLAGS = ("-Wall", "-Wextra", "-pedantic")
_LOADED: dict[str, ModuleType] = {}


class BuildError(QccError):
    """The C compiler is missing or rejected the generated code."""


def csrc_dir() -> Path:
    """The kernel library sources: the installed package data, or the repository's csrc/."""
    try:  # installed as package data: the directory of the (namespace) package qcc.csrc
        spec = importlib.util.find_spec("qcc.csrc")
        for location in (spec.submodule_search_locations or []) if spec is not None else []:
            if (Path(location) / "qcc_kernels.h").is_file():
                return Path(location)
    except (ImportError, ValueError):
        pass
    repo = Path(__file__).resolve().parents[2] / "csrc"
    if (repo / "qcc_kernels.h").is_file():
        return repo
    raise BuildError("cannot find the qcc kernel library sources (csrc/qcc_kernels.h); reinstall qcc")


def is_kernel_file(name: str) -> bool:
    """A file of the kernel library (csrc/), as opposed to a model's own sources."""
    return (csrc_dir() / name).is_file()


def kernel_sources(names: Sequence[str]) -> dict[str, str]:
    """The text of the named kernel library files."""
    root = csrc_dir()
    return {name: (root / name).read_text() for name in names}


def library_header_key(given: Mapping[str, str]) -> str:
    """The digest the library's objects are keyed by: every csrc/ header, as given in ``given``
    where it is there. Every model passes a different subset of headers; keying by the whole set
    lets one compiled library file serve them all."""
    headers = {p.name: p.read_text() for p in csrc_dir().glob("*.h")}
    headers.update({k: v for k, v in given.items() if k.endswith(".h") and k in headers})
    return content_digest(*(f"{k}\n{v}" for k, v in sorted(headers.items())))


def _cache_base() -> Path:
    root = os.environ.get("QCC_CACHE_DIR")
    return Path(root) if root else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "qcc"


def cache_dir() -> Path:
    """Built model modules (and the model.c stack call graphs), keyed by content."""
    path = _cache_base() / "c-modules"
    path.mkdir(parents=True, exist_ok=True)
    return path


def kernel_cache_dir() -> Path:
    """The kernel library's objects and stack call graphs, per compiler, flags and csrc/ content:
    csrc/ is the same for every model, so it is compiled once per machine, not per model.
    ``$QCC_KERNEL_CACHE_DIR`` moves it on its own (a benchmark can then empty the module cache
    but keep the library)."""
    root = os.environ.get("QCC_KERNEL_CACHE_DIR")
    path = Path(root) if root else _cache_base() / "kernels"
    path.mkdir(parents=True, exist_ok=True)
    return path


def find_compiler() -> list[str]:
    """The C compiler command: $CC, else cc, gcc or clang on the PATH."""
    env = os.environ.get("CC")
    candidates = [env.split()] if env else [["cc"], ["gcc"], ["clang"]]
    for cmd in candidates:
        if cmd and shutil.which(cmd[0]):
            return cmd
    raise BuildError("no C compiler found: install cc/gcc/clang or set CC to one" if not env else f"the C compiler CC='{env}' was not found")


_NATIVE: dict[str, bool] = {}


def _native_flags(cc: list[str]) -> tuple[str, ...]:
    """-march=native when the compiler accepts it (integer code: results do not depend on it)."""
    if os.environ.get("QCC_NO_NATIVE"):
        return ()
    key = " ".join(cc)
    if key not in _NATIVE:
        try:
            r = subprocess.run([*cc, "-march=native", "-x", "c", "-c", "-o", os.devnull, "-"], input=b"int x;\n",
                               capture_output=True, timeout=60)
            _NATIVE[key] = r.returncode == 0
        except (OSError, subprocess.SubprocessError):
            _NATIVE[key] = False
    return ("-march=native",) if _NATIVE[key] else ()


def _extra_flags() -> tuple[str, ...]:
    """$QCC_EXTRA_CFLAGS, after -march=native: how the tests build the kernels' other vector paths
    (e.g. ``-mno-avx512vnni -mno-avxvnni`` for AVX2 on a VNNI machine)."""
    return tuple(shlex.split(os.environ.get("QCC_EXTRA_CFLAGS", "")))


def run_compiler(cmd: list[str], cwd: Path, what: str) -> None:
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    except OSError as e:
        raise BuildError(f"cannot run the C compiler '{cmd[0]}': {e}") from None
    if r.returncode != 0:
        errors = [line for line in (r.stderr or r.stdout).splitlines() if "error" in line] or (r.stderr or r.stdout).splitlines() or ["(no output)"]
        raise BuildError(f"compiling {what} failed: {errors[0].strip()}")


def content_digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def _install(built: Path, target: Path) -> None:
    """Copy a build product into the cache atomically (concurrent builders race harmlessly)."""
    staged = target.with_name(f".{target.name}.{os.getpid()}.{id(built)}.tmp")
    shutil.copyfile(built, staged)
    os.replace(staged, target)


def kernel_objects(kernels: Mapping[str, str], cc: list[str], flags: tuple[str, ...]) -> list[Path]:
    """Compile (or find in the cache) one object per kernel library .c file."""
    header_key = library_header_key(kernels)
    out, todo = [], []
    root = kernel_cache_dir() / "objects"
    root.mkdir(exist_ok=True)
    for name, text in sorted(kernels.items()):
        if not name.endswith(".c"):
            continue
        obj = root / f"{Path(name).stem}-{content_digest(text, header_key, ' '.join(cc), ' '.join(flags))[:24]}.o"
        out.append(obj)
        if not obj.exists():
            todo.append((name, text, obj))
    if todo:
        with tempfile.TemporaryDirectory(prefix="qcc-kernels-") as tmp:
            work = Path(tmp)
            for name, text in kernels.items():
                (work / name).write_text(text)

            def compile_one(item: tuple[str, str, Path]) -> None:
                name, _, obj = item
                target = work / f"{Path(name).stem}.o"
                run_compiler([*cc, *flags, "-c", name, "-o", str(target)], work, name)
                _install(target, obj)

            with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
                list(pool.map(compile_one, todo))
    return out


def module_flags(cc: list[str]) -> tuple[str, ...]:
    """The flags the host module (model and kernel library) is compiled with."""
    return BUILD_FLAGS + _native_flags(cc) + _extra_flags()


@dataclass
class ModelSources:
    """One model to link into a module: its files (model.c, model.h, ...) and its prototypes."""

    files: Mapping[str, str]
    prototypes: str
    directory: str = ""  # subdirectory inside the build tree (several models per module)


def build_module(models: Sequence[ModelSources], kernels: Mapping[str, str]) -> ModuleType:
    """Compile the models and the kernel library into one cffi extension module (cached)."""
    import cffi

    cc = find_compiler()
    flags = module_flags(cc)
    cdef = "\n".join(m.prototypes for m in models)
    key = content_digest(
        cdef, " ".join(cc), " ".join(flags), sys.version, sysconfig.get_config_var("EXT_SUFFIX") or "",
        *(f"{m.directory}/{name}\n{text}" for m in models for name, text in sorted(m.files.items())),
        *(f"{name}\n{text}" for name, text in sorted(kernels.items())),
    )[:20]
    module_name = f"_qcc_c_{key}"
    if module_name in _LOADED:
        return _LOADED[module_name]
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    target = cache_dir() / f"{module_name}{suffix}"
    if not target.exists():
        objects = kernel_objects(kernels, cc, flags)
        with tempfile.TemporaryDirectory(prefix="qcc-build-") as tmp:
            work = Path(tmp)
            for name, text in kernels.items():
                if name.endswith(".h"):
                    (work / name).write_text(text)
            sources = []
            for m in models:
                sub = work / m.directory if m.directory else work
                sub.mkdir(parents=True, exist_ok=True)
                for name, text in m.files.items():
                    (sub / name).write_text(text)
                if "model.c" in m.files:
                    sources.append(sub / "model.c")
            ffi = cffi.FFI()
            ffi.cdef(cdef)
            ffi.set_source(module_name, "#include <stddef.h>\n#include <stdint.h>\n" + cdef)
            wrapper = work / f"{module_name}.c"
            with contextlib.redirect_stdout(io.StringIO()):  # cffi announces what it generates
                ffi.emit_c_code(str(wrapper))
            include = sysconfig.get_paths()["include"]
            objs = []
            jobs = [(wrapper, ["-I", include, "-w"]), *((s, ["-I", str(work), "-I", str(s.parent)]) for s in sources)]

            def compile_one(job: tuple[Path, list[str]]) -> Path:
                src, extra = job
                obj = src.with_suffix(".o")
                run_compiler([*cc, *flags, *extra, "-c", str(src), "-o", str(obj)], work, src.relative_to(work).as_posix())
                return obj

            with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
                objs = list(pool.map(compile_one, jobs))
            link = ["-shared"] + (["-undefined", "dynamic_lookup"] if sys.platform == "darwin" else [])
            built = work / f"{module_name}{suffix}"
            run_compiler([*cc, *link, "-o", str(built), *map(str, objs), *map(str, objects), "-lm"], work, "the module")
            _install(built, target)
    spec = importlib.util.spec_from_file_location(module_name, target)
    if spec is None or spec.loader is None:
        raise BuildError(f"cannot load the built module {target}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _LOADED[module_name] = module
    return module


def compile_standalone(directory: Path, extra_flags: Sequence[str] = (), output: str = "model") -> Path:
    """Build a compiled model folder's standalone harness with the plain C compiler (what its
    Makefile does), with warnings as errors. Returns the executable."""
    cc = find_compiler()
    sources = sorted(p.name for p in directory.glob("*.c"))
    run_compiler([*cc, "-std=c99", "-O2", *WARNING_FLAGS, "-Werror", *extra_flags, "-o", output, *sources, "-lm"], directory, f"{directory.name} (standalone)")
    return directory / output


def build_executable(directory: Path, sources: Sequence[str], kernels: Mapping[str, str], flags: Sequence[str], output: str = "program") -> Path:
    """Compile ``sources`` (files in ``directory``) and link them with the kernel library, all with
    ``flags`` (the kernel objects cached per flag set), into ``directory/output``. For builds the
    Makefile does not cover: sanitizers, fast-math, other optimization levels."""
    cc = find_compiler()
    all_flags = ("-std=c99", *WARNING_FLAGS, *flags)
    for name, text in kernels.items():
        if name.endswith(".h"):
            (directory / name).write_text(text)
    objects = kernel_objects(kernels, cc, all_flags)
    run_compiler([*cc, *all_flags, "-o", output, *sources, *map(str, objects), "-lm"], directory, f"{directory.name} ({' '.join(flags)})")
    return directory / output
