"""C literals for constant data: integer arrays, float constants, struct initializers.

Large int8 arrays (weights) are written as string literals of octal escapes: compilers parse
them two orders of magnitude faster than initializer lists (a VGG's 140 MB of weights compile in
seconds instead of tens of minutes), each at most ``LITERAL_PART_BYTES`` long (MSVC caps a literal
at 64 KB; longer weights become a struct of parts), or as initializer lists when the program asks
for the ``arrays`` form. Floats are written in hexadecimal so that the C constant is bit-identical
to the float32 the numpy reference uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

C_TYPES = {
    np.dtype(np.int8): "int8_t",
    np.dtype(np.int16): "int16_t",
    np.dtype(np.int32): "int32_t",
    np.dtype(np.int64): "int64_t",
    np.dtype(np.uint8): "uint8_t",
}

STRING_THRESHOLD = 256
"""int8 arrays with more elements than this become string literals."""

_SAFE_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 _+-*/=<>()[]{}.,;:!#%&|^~")


def int_literal(value: int) -> str:
    """A C integer constant for an int32 or int64 value (INT32_MIN and beyond written safely)."""
    v = int(value)
    if -(2**31) < v < 2**31:
        return str(v)
    if v == -(2**31):
        return "(-2147483647 - 1)"
    if -(2**63) < v < 2**63:
        return f"INT64_C({v})"
    raise ValueError(f"{v} does not fit int64")


def float_literal(value: float) -> str:
    """The float32 nearest ``value`` as an exact hexadecimal C constant (``0x1.8p-3f``)."""
    f = float(np.float32(value))
    if not np.isfinite(f):
        raise ValueError(f"non-finite float constant {value!r}")
    return f"{f.hex()}f"


_SAFE_MASK = np.zeros(256, dtype=bool)
_SAFE_MASK[list(_SAFE_BYTES)] = True


def _string_literal(data: bytes, width: int = 32) -> list[str]:
    """Lines of a C string literal holding ``data``, ``width`` bytes per line. Safe printable bytes
    stand for themselves; every other byte is a 3-digit octal escape (always 3 digits, so a
    following digit can never extend one; '?' is escaped because of trigraphs, '"' and '\\'
    because they end or escape the literal). Vectorized: weights run to hundreds of megabytes."""
    codes = np.frombuffer(data, dtype=np.uint8)
    n = codes.size
    if n == 0:
        return ['""']
    safe = _SAFE_MASK[codes]
    lengths = np.where(safe, 1, 4)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    chars = np.empty(int(ends[-1]), dtype=np.uint8)
    chars[starts[safe]] = codes[safe]
    esc = starts[~safe]
    unsafe = codes[~safe]
    chars[esc] = ord("\\")
    chars[esc + 1] = ord("0") + (unsafe >> 6)
    chars[esc + 2] = ord("0") + ((unsafe >> 3) & 7)
    chars[esc + 3] = ord("0") + (unsafe & 7)
    text = chars.tobytes().decode("ascii")
    line_starts = starts[::width].tolist() + [len(text)]
    return ['"' + text[a:b] + '"' for a, b in zip(line_starts[:-1], line_starts[1:])]


CONSTANT_FORMS = ("strings", "arrays")
"""How int8 weights are written: string literals (fast to compile) or initializer lists (for
compilers whose literal limit is too small even for the split literals)."""

LITERAL_PART_BYTES = 65520
"""Longest string literal written, in bytes: below MSVC's 65,535-byte cap on a literal (its
terminating NUL included), a multiple of 16. Longer weights are split into parts."""


@dataclass(frozen=True)
class ByteArray:
    """A large int8 constant, written in the program's constant form when model.c is emitted."""

    name: str
    data: bytes
    comment: str = ""

    @property
    def pointer(self) -> str:
        """An ``int8_t`` pointer to the bytes, the same expression in every form."""
        return f"((const int8_t *)(const void *)&{self.name})"

    def render(self, form: str) -> str:
        head = f"/* {self.comment} */\n" if self.comment else ""
        if form == "arrays":
            return head + _initializer_list("int8_t", self.name, np.frombuffer(self.data, dtype=np.int8))
        if form != "strings":
            raise ValueError(f"unknown constant form '{form}' (one of {', '.join(CONSTANT_FORMS)})")
        n = len(self.data)
        if n <= LITERAL_PART_BYTES:
            body = "\n".join("    " + line for line in _string_literal(self.data))
            return f"{head}static const unsigned char {self.name}[{n + 1}] =\n{body};"
        # a struct of char arrays, each filled by one literal (without its NUL, which C allows);
        # char arrays need no padding between them, and the typedef fails to compile if a
        # compiler added some, so the parts read as one contiguous array
        starts = range(0, n, LITERAL_PART_BYTES)
        parts = [self.data[a : a + LITERAL_PART_BYTES] for a in starts]
        members = "".join(f"    unsigned char p{k}[{len(part)}];\n" for k, part in enumerate(parts))
        literals = ",\n".join("\n".join("    " + line for line in _string_literal(part)) for part in parts)
        check = f"typedef char {self.name}_is_contiguous[sizeof({self.name}) == {n} ? 1 : -1];"
        return f"{head}static const struct {{\n{members}}} {self.name} = {{\n{literals}\n}};\n{check}"


def _initializer_list(ctype: str, name: str, flat: np.ndarray) -> str:
    items = [int_literal(v) for v in flat.tolist()]
    per_line = 16
    rows = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    body = ",\n".join("    " + r for r in rows)
    return f"static const {ctype} {name}[{flat.size}] = {{\n{body}\n}};"


def array_definition(name: str, array: np.ndarray, comment: str = "") -> tuple[str | ByteArray, str]:
    """``(definition, pointer expression)`` for a file-scope ``static const`` array holding
    ``array`` flattened. The pointer expression has the element's C type. Large int8 arrays come
    back as a ``ByteArray``, written in the form the program chooses."""
    flat = np.ascontiguousarray(np.asarray(array)).reshape(-1)
    dtype = flat.dtype
    ctype = C_TYPES.get(dtype)
    if ctype is None:
        raise ValueError(f"no C type for constant data of type {dtype}")
    head = f"/* {comment} */\n" if comment else ""
    if flat.size == 0:
        return f"{head}static const {ctype} {name}[1] = {{0}};", name
    if dtype == np.int8 and flat.size > STRING_THRESHOLD:
        weights = ByteArray(name, flat.view(np.uint8).tobytes(), comment)
        return weights, weights.pointer
    return head + _initializer_list(ctype, name, flat), name


def render_definition(definition: str | ByteArray, form: str) -> str:
    return definition if isinstance(definition, str) else definition.render(form)


class Raw(str):
    """A C expression written into an initializer as is (a pointer name, NULL, a cast...)."""


def initializer(value: Any, indent: int = 1) -> str:
    """A C99 initializer for ints, Raw expressions, lists of them and (nested) dicts, which become
    designated initializers."""
    pad = "    " * indent
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (int, np.integer)):
        return int_literal(int(value))
    if isinstance(value, Mapping):
        fields = [f"{pad}.{k} = {initializer(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(fields) + "\n" + "    " * (indent - 1) + "}"
    if isinstance(value, (list, tuple)):
        return "{" + ", ".join(initializer(v, indent + 1) for v in value) + "}"
    raise TypeError(f"cannot write {value!r} as a C initializer")


def struct_definition(ctype: str, name: str, fields: Mapping[str, Any]) -> str:
    return f"static const {ctype} {name} = {initializer(fields)};"
