"""Running a built C model from Python: integer tensors in, integer tensors out, plus the float
boundary helpers and single-step execution (for locating the first differing node).

``ModelInfo`` is what a caller needs to know about a compiled model without lowering it again;
``qcc compile`` writes it to ``OUT/model.json`` so that ``qcc run OUT/`` can load the folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from qcc.backends.c.build import ModelSources, build_module, kernel_sources
from qcc.backends.c.emitter import HEADER, model_c, model_h, prototypes
from qcc.backends.c.steps import PLAIN_INTEGER_TYPES
from qcc.errors import InputError, QccError
from qcc.ir.types import DType


@dataclass
class TensorInfo:
    name: str            # C identifier part
    float_name: str      # graph input/output name
    dtype: str           # "i8" or "i16" (an activation), or an integer data type taken as it is ("i32", "bool", ...)
    shape: list[int]
    scale: float | list[float] | None  # a list for a joined output's per-axis parameters
    zero_point: int | list[int]
    axis: int | None = None

    @property
    def numpy(self) -> np.dtype:
        return DType(self.dtype).numpy

    @property
    def ctype(self) -> str:
        return PLAIN_INTEGER_TYPES[DType(self.dtype)][0]


@dataclass
class ModelInfo:
    name: str
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    arena_size: int
    lower_bound: int
    steps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"qcc_{self.name}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ModelInfo:
        raw = json.loads(text)
        return cls(
            raw["name"], [TensorInfo(**t) for t in raw["inputs"]], [TensorInfo(**t) for t in raw["outputs"]],
            int(raw["arena_size"]), int(raw["lower_bound"]), list(raw.get("steps", [])),
        )

    @classmethod
    def from_program(cls, program: Any) -> ModelInfo:
        def info(io: Any) -> TensorInfo:
            scale, zero_point = (list(io.scale), list(io.zero_point)) if io.axis is not None else (io.scale, io.zero_point)
            return TensorInfo(io.name, io.float_name, io.dtype.value, list(io.shape), scale, zero_point, io.axis)

        steps = [{"index": s.index, "node": s.node.name if s.node is not None else "", "op": s.node.op if s.node is not None else "copy",
                  "kernel": s.kernel} for s in program.steps]
        return cls(program.name, [info(i) for i in program.inputs], [info(o) for o in program.outputs],
                   program.plan.arena_size, program.plan.lower_bound, steps)


class CModel:
    """A compiled model loaded from its cffi module."""

    def __init__(self, module: ModuleType, info: ModelInfo) -> None:
        self.module = module
        self.info = info
        self.ffi, self.lib = module.ffi, module.lib
        p = info.prefix
        self._run = getattr(self.lib, f"{p}_run")
        self._run_step = getattr(self.lib, f"{p}_run_step")
        if int(getattr(self.lib, f"{p}_arena_size")()) != info.arena_size:
            raise QccError(f"the built module's arena size differs from model.json ({info.arena_size} bytes)")
        self.arena = _aligned_bytes(info.arena_size)

    # ---- integer interface -------------------------------------------------------------------

    def _check(self, arrays: Sequence[np.ndarray], specs: Sequence[TensorInfo], what: str) -> list[np.ndarray]:
        if len(arrays) != len(specs):
            raise InputError(f"expected {len(specs)} {what} tensors, got {len(arrays)}")
        out = []
        for a, spec in zip(arrays, specs):
            arr = np.ascontiguousarray(a).reshape(np.shape(a))  # ascontiguousarray makes a 0-d array 1-d
            if arr.dtype != spec.numpy or list(arr.shape) != spec.shape:
                raise InputError(f"{what} '{spec.float_name}': expected {spec.dtype}{spec.shape}, got {arr.dtype}{list(arr.shape)}")
            out.append(arr)
        return out

    def _pointers(self, ins: Sequence[np.ndarray], outs: Sequence[np.ndarray]) -> list[Any]:
        ptrs = [self.ffi.from_buffer(f"{spec.ctype}[]", a) for a, spec in zip(ins, self.info.inputs)]
        ptrs += [self.ffi.from_buffer(f"{spec.ctype}[]", a, require_writable=True) for a, spec in zip(outs, self.info.outputs)]
        return ptrs

    def new_outputs(self) -> list[np.ndarray]:
        return [np.zeros(o.shape, dtype=o.numpy) for o in self.info.outputs]

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One run on integer inputs (one array per run() input); returns the integer outputs."""
        ins = self._check(inputs, self.info.inputs, "input")
        outs = self.new_outputs()
        rc = self._run(*self._pointers(ins, outs), self.ffi.from_buffer(self.arena, require_writable=True))
        if rc != 0:
            raise QccError(f"{self.info.prefix}_run returned {rc}")
        return outs

    def run_steps(self, inputs: Sequence[np.ndarray]) -> Iterator[tuple[int, np.ndarray, list[np.ndarray]]]:
        """Run step by step; after each step yields (index, arena bytes, outputs so far)."""
        ins = self._check(inputs, self.info.inputs, "input")
        outs = self.new_outputs()
        ptrs = self._pointers(ins, outs)
        arena = self.ffi.from_buffer(self.arena, require_writable=True)
        for index in range(len(self.info.steps)):
            rc = self._run_step(index, *ptrs, arena)
            if rc != 0:
                raise QccError(f"{self.info.prefix}_run_step({index}) returned {rc}")
            yield index, self.arena, outs

    # ---- float boundary ----------------------------------------------------------------------

    def quantize_inputs(self, floats: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The generated C quantize helpers (float32 in, integer tensors out)."""
        result = []
        for k, (x, spec) in enumerate(zip(floats, self.info.inputs)):
            if spec.scale is None:
                result.append(np.ascontiguousarray(x, dtype=spec.numpy).reshape(spec.shape))
                continue
            xf = np.ascontiguousarray(x, dtype=np.float32).reshape(spec.shape)
            q = np.zeros(spec.shape, dtype=spec.numpy)
            fn = getattr(self.lib, f"{self.info.prefix}_quantize_input{k}")
            nans = fn(self.ffi.from_buffer("float[]", xf), self.ffi.from_buffer(f"{spec.ctype}[]", q, require_writable=True))
            if nans:
                raise InputError(f"input '{spec.float_name}' holds NaN, which has no quantized value")
            result.append(q)
        return result

    def dequantize_outputs(self, ints: Sequence[np.ndarray]) -> list[np.ndarray]:
        result = []
        for k, (q, spec) in enumerate(zip(ints, self.info.outputs)):
            if spec.scale is None:
                result.append(q)
                continue
            y = np.zeros(spec.shape, dtype=np.float32)
            fn = getattr(self.lib, f"{self.info.prefix}_dequantize_output{k}")
            qc = np.ascontiguousarray(q)
            fn(self.ffi.from_buffer(f"{spec.ctype}[]", qc), self.ffi.from_buffer("float[]", y, require_writable=True))
            result.append(y)
        return result

    def run_float(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Float inputs by graph input name -> float outputs by graph output name."""
        xs = []
        for spec in self.info.inputs:
            if spec.float_name not in feeds:
                raise InputError(f"missing input '{spec.float_name}'")
            xs.append(feeds[spec.float_name])
        outs = self.dequantize_outputs(self.run(self.quantize_inputs(xs)))
        return {spec.float_name: y for spec, y in zip(self.info.outputs, outs)}


def _aligned_bytes(size: int, alignment: int = 64) -> np.ndarray:
    raw = np.zeros(size + alignment, dtype=np.uint8)
    start = (-raw.ctypes.data) % alignment
    return raw[start : start + size]


def load_compiled(directory: str | Path) -> CModel:
    """Build (or find in the cache) and load the model of a ``qcc compile`` output folder."""

    root = Path(directory)
    manifest = root / "model.json"
    if not manifest.is_file() or not (root / "model.c").is_file():
        raise InputError(f"'{root}' is not a qcc compile output folder (no model.json / model.c)")
    info = ModelInfo.from_json(manifest.read_text())
    header = (root / HEADER).read_text()
    prototypes = "\n".join(line for line in header.splitlines() if line.startswith(("int ", "int32_t ", "void ", "size_t ")) and line.rstrip().endswith(");"))
    files = {p.name: p.read_text() for p in root.iterdir() if p.suffix in (".c", ".h") and p.name != "main.c"}
    kernels = {k: v for k, v in files.items() if k.startswith("qcc_")}
    model = {k: v for k, v in files.items() if not k.startswith("qcc_")}
    module = build_module([ModelSources(model, prototypes)], kernels)
    return CModel(module, info)


def build_programs(programs: Sequence[Any]) -> list[CModel]:
    """Build lowered programs (``lowering.CProgram``) into one module and load each of them.
    Several programs share a module (each model's C lives in its own directory), which is how the
    tests check many small graphs with one compile."""

    names = [p.name for p in programs]
    if len(set(names)) != len(names):
        raise QccError("programs linked into one module need distinct names")
    files: set[str] = set()
    models = []
    for k, program in enumerate(programs):
        files |= set(program.files)
        models.append(ModelSources({"model.c": model_c(program), "model.h": model_h(program)}, "\n".join(prototypes(program)),
                                   directory=f"m{k}" if len(programs) > 1 else ""))
    module = build_module(models, kernel_sources(sorted(files)))
    return [CModel(module, ModelInfo.from_program(p)) for p in programs]
