"""4-bit weights packed two per byte in ``model.c``: half the flash of one weight per byte.

The layout is the one ``csrc/qcc_int4.h`` reads and docs/arithmetic.md §3.1 defines: weight ``i``
of a kernel's weight array (in the kernel's own element order) is the low nibble of byte ``i // 2``
when ``i`` is even and the high nibble when it is odd, in 4-bit two's complement; an odd count
leaves the last high nibble 0. Which weights are packed follows the IR: a weight constant whose
``QuantParams.bits`` is 4.
"""

from __future__ import annotations

import numpy as np

from qcc.backends.c.steps import CBackendError
from qcc.ir.core import Value

PACKED_BITS = 4
NIBBLE_RANGE = (-8, 7)
"""What a 4-bit two's complement nibble holds (qcc's 4-bit weights are -7 .. 7)."""


def stored_weight_bits(weight: Value) -> int:
    """4 when the constant is a weight of at most 4 bits (stored packed: 2- and 3-bit weights fit a
    nibble too), else 8 (one weight per byte)."""
    quant = weight.type.quant
    return PACKED_BITS if weight.is_const and quant is not None and quant.bits <= PACKED_BITS else 8


def pack_int4(values: np.ndarray, where: str) -> np.ndarray:
    """``values`` (any shape, flattened in C order) packed two per byte, as int8 bytes."""
    flat = np.asarray(values, dtype=np.int64).reshape(-1)
    lo, hi = NIBBLE_RANGE
    if flat.size and (int(flat.min()) < lo or int(flat.max()) > hi):
        raise CBackendError(f"{where}: a 4-bit weight holds {int(flat.min())} .. {int(flat.max())}, outside {lo} .. {hi}")
    nibbles = (flat & 0xF).astype(np.uint8)
    if nibbles.size % 2:
        nibbles = np.append(nibbles, np.uint8(0))
    return (nibbles[0::2] | (nibbles[1::2] << 4)).view(np.int8)


def unpack_int4(packed: np.ndarray, count: int) -> np.ndarray:
    """The first ``count`` weights of a packed array, as int8 (the inverse of ``pack_int4``)."""
    b = np.asarray(packed).view(np.uint8).astype(np.int16)
    nibbles = np.stack([b & 0xF, b >> 4], axis=1).reshape(-1)[:count]
    return ((nibbles ^ 8) - 8).astype(np.int8)


def stored_nbytes(constant: Value) -> int:
    """Bytes of a constant's values in model.c (4-bit weights packed, rounded up to a whole byte),
    before any padding a kernel's layout adds."""
    data = constant.const_array
    return (data.size + 1) // 2 if stored_weight_bits(constant) == PACKED_BITS else int(data.nbytes)
