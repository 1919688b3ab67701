"""Flash of a generated model: the bytes of every constant object ``model.c`` defines.

The figure is read off the emitted text itself, so it cannot drift from what the compiler gets:
every file-scope ``static const`` / ``const`` object (weight literals, bias, multiplier, shift and
table arrays, parameter structs, the float boundary's per-index scales) and the ``run_step``
function table. A ``const`` definition this module does not recognise is an error, not a silent
omission. Arrays have the same size on every target; parameter structs hold pointers, so their
size depends on the data model and is laid out from ``qcc_kernels.h`` by the C rules (each field
at its alignment, the struct padded to its largest alignment), for 32-bit pointers (ILP32:
Cortex-M, armhf) and 64-bit ones (LP64: x86-64, aarch64). Object sizes only: the padding a linker
puts between objects and the kernels' own code are not counted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from qcc.backends.c.build import STANDALONE_FLAGS, BuildError, find_compiler, kernel_sources
from qcc.backends.c.stack import StackUsage, measure_stack
from qcc.backends.c.steps import CBackendError, CProgram


@dataclass(frozen=True)
class DataModel:
    """Sizes of the C types whose width depends on the target (int64_t aligns to 8 on both)."""

    name: str
    pointer: int


ILP32 = DataModel("ILP32", 4)
LP64 = DataModel("LP64", 8)
DATA_MODELS = (ILP32, LP64)

_FIXED = {"unsigned char": 1, "char": 1, "int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2,
          "int32_t": 4, "uint32_t": 4, "float": 4, "int64_t": 8, "uint64_t": 8, "double": 8}


def _scalar(ctype: str, model: DataModel) -> tuple[int, int]:
    """(size, alignment) of a scalar C type; pointers and size_t follow the data model."""
    if ctype in ("pointer", "size_t"):
        return model.pointer, model.pointer
    size = _FIXED[ctype]
    return size, size


# ---- struct layouts from the kernel header -------------------------------------------------------

_STRUCT = re.compile(r"typedef\s+struct\s*\{(?P<body>.*?)\}\s*(?P<name>\w+)\s*;", re.S)
_DEFINE = re.compile(r"^#define\s+(\w+)\s+(\d+)\s*$", re.M)
_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_DECLARATOR = re.compile(r"^(?P<star>\*?)\s*(?P<name>\w+)\s*(?:\[(?P<count>\w+)\])?$")

Field = tuple[str, int]
"""(element type: a scalar type name, 'pointer' or a struct name; element count)."""


@cache
def kernel_structs() -> tuple[dict[str, list[Field]], dict[str, int]]:
    header = _COMMENT.sub(" ", kernel_sources(["qcc_kernels.h"])["qcc_kernels.h"])
    macros = {name: int(value) for name, value in _DEFINE.findall(header)}
    structs: dict[str, list[Field]] = {}
    for match in _STRUCT.finditer(header):
        fields: list[Field] = []
        for declaration in filter(None, (d.strip() for d in match["body"].split(";"))):
            words = declaration.split(",")
            head = words[0].split()
            base_words = [w for w in head if w != "const"]
            # the base type is every word but the first declarator (which may start with '*')
            split = next(i for i, w in enumerate(base_words) if w.startswith("*") or i == len(base_words) - 1)
            base = " ".join(base_words[:split])
            declarators = [" ".join(base_words[split:])] + [w.strip() for w in words[1:]]
            for text in declarators:
                d = _DECLARATOR.match(text.replace(" ", ""))
                if d is None:
                    raise CBackendError(f"qcc_kernels.h: cannot lay out field '{text}' of {match['name']}")
                count = d["count"]
                n = 1 if count is None else int(count) if count.isdigit() else macros[count]
                fields.append(("pointer" if d["star"] else base, n))
        structs[match["name"]] = fields
    return structs, macros


def _layout(ctype: str, model: DataModel) -> tuple[int, int]:
    """(size, alignment) of a scalar or a qcc_kernels.h struct under ``model``."""
    structs, _ = kernel_structs()
    if ctype not in structs:
        if ctype not in _FIXED and ctype not in ("pointer", "size_t"):
            raise CBackendError(f"model.c: no size known for the C type '{ctype}'")
        return _scalar(ctype, model)
    offset, align = 0, 1
    for field_type, count in structs[ctype]:
        size, field_align = _layout(field_type, model)
        offset = -(-offset // field_align) * field_align + size * count
        align = max(align, field_align)
    return -(-offset // align) * align, align


def sizeof(ctype: str, model: DataModel) -> int:
    return _layout(ctype, model)[0]


# ---- the constant objects of model.c -------------------------------------------------------------


@dataclass(frozen=True)
class ConstObject:
    """One constant object of model.c: ``count`` elements of ``ctype`` (a struct or scalar type,
    or 'pointer' for the function table)."""

    name: str
    ctype: str
    count: int

    def nbytes(self, model: DataModel) -> int:
        return sizeof(self.ctype, model) * self.count


@dataclass(frozen=True)
class Flash:
    objects: tuple[ConstObject, ...]

    def total(self, model: DataModel) -> int:
        return sum(o.nbytes(model) for o in self.objects)

    def by_model(self) -> dict[str, int]:
        return {m.name: self.total(m) for m in DATA_MODELS}


_ARRAY = re.compile(r"^(?:static\s+)?const\s+(?P<ctype>unsigned char|\w+)\s+(?P<name>\w+)\[(?P<count>\d+)\]\s*=")
_OBJECT = re.compile(r"^(?:static\s+)?const\s+(?P<ctype>\w+)\s+(?P<name>\w+)\s*=")
_PARTS = re.compile(r"^static\s+const\s+struct\s*\{(?P<members>[^}]*)\}\s*(?P<name>\w+)\s*=")
_PART = re.compile(r"unsigned char\s+\w+\[(\d+)\];")
_TABLE = re.compile(r"^\s*static\s+\w+\s*\(\*const\s+(?P<name>\w+)\[(?P<count>\d+)\]\)")
_CONST_LINE = re.compile(r"^(?:static\s+const\b|const\b|\s*static\s+\w+\s*\(\*const\s)")


def constant_objects(model_c: str) -> Flash:
    """Every constant object defined in ``model_c``."""
    objects = []
    lines = model_c.splitlines()
    for k, line in enumerate(lines):
        if not _CONST_LINE.search(line):
            continue
        if line.startswith("static const struct"):  # a long literal split into parts (carrays)
            head = " ".join(lines[k : k + 1 + next(j for j, text in enumerate(lines[k:]) if "}" in text)])
            parts = _PARTS.match(head)
            if parts is None:
                raise CBackendError(f"model.c line {k + 1}: unrecognised constant definition '{line.strip()}'")
            objects.append(ConstObject(parts["name"], "unsigned char", sum(int(n) for n in _PART.findall(parts["members"]))))
        elif m := _ARRAY.match(line):
            objects.append(ConstObject(m["name"], m["ctype"], int(m["count"])))
        elif m := _OBJECT.match(line):
            objects.append(ConstObject(m["name"], m["ctype"], 1))
        elif m := _TABLE.match(line):
            objects.append(ConstObject(m["name"], "pointer", int(m["count"])))
        else:
            raise CBackendError(f"model.c line {k + 1}: unrecognised constant definition '{line.strip()}'")
    return Flash(tuple(objects))


@dataclass(frozen=True)
class ModelFootprint:
    """Flash and RAM of one generated model."""

    flash: Flash
    arena: int
    io: int                    # bytes of run()'s input and output buffers
    stack: StackUsage | None   # None: no compiler that reports stack usage

    @property
    def ram(self) -> int | None:
        return None if self.stack is None else self.arena + self.io + self.stack.bytes


def program_stack(program: CProgram, model_c: str, model_h: str, compiler: Sequence[str] = ()) -> StackUsage | None:
    """run()'s worst-case stack. ``compiler``: the firmware's compiler command and flags (e.g.
    ``arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -Os``), measured as asked or an error; by default the
    build's C compiler at the standalone Makefile's flags, None when it cannot report stack usage."""
    sources = {**kernel_sources(program.files), "model.c": model_c, "model.h": model_h}
    entry = f"{program.prefix}_run"
    if compiler:
        return measure_stack(sources, entry, [compiler[0]], (*STANDALONE_FLAGS, *compiler[1:]))  # later -O wins
    try:
        return measure_stack(sources, entry, find_compiler(), STANDALONE_FLAGS)
    except BuildError:
        return None


def model_footprint(program: CProgram, model_c: str, stack: StackUsage | None) -> ModelFootprint:
    io = sum(b.nbytes for b in program.inputs + program.outputs)
    return ModelFootprint(constant_objects(model_c), program.plan.arena_size, io, stack)
