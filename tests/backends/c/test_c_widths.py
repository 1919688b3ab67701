"""The kernel library assumes nothing about the width of ``int`` (16 bits on some DSP compilers):
no shift of a bare integer constant (type ``int``), and no shift amount the verifier has not
bounded. The first is read off the sources; the second is the verifier refusing the IR.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from qcc.arith.fixedpoint import activation_range
from qcc.backends.c.build import csrc_dir
from qcc.errors import QccError
from qcc.ir.types import DType
from tests.backends.c.harness import act_type, single_node

# `1 << n`, `3u << n`: the left operand has type int / unsigned int, whose width C leaves open.
# Written `(int32_t)1 << n` or `INT32_C(1) << n` it has the width the arithmetic needs.
BARE_CONSTANT_SHIFT = re.compile(r"(?<![\w)])\d+[uU]?\s*<<")
COMMENT = re.compile(r"/\*.*?\*/", re.S)


@pytest.mark.parametrize("name", sorted(p.name for p in csrc_dir().glob("qcc_*.[ch]")))
def test_no_shift_of_a_plain_int_constant(name: str) -> None:
    code = COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), (csrc_dir() / name).read_text())
    bad = [f"{name}:{i}: {line.strip()}" for i, line in enumerate(code.splitlines(), 1) if BARE_CONSTANT_SHIFT.search(line)]
    assert not bad, "shifts of an int-typed constant:\n" + "\n".join(bad)


def _add(dtype: DType, left_shift: int) -> None:
    x = np.zeros((1, 4), dtype.numpy)
    qmin, qmax = activation_range(dtype.bits)
    attrs = dict(a_zp=0, b_zp=0, left_shift=left_shift, a_multiplier=1 << 30, a_shift=0, b_multiplier=1 << 30, b_shift=0,
                 multiplier=1 << 30, shift=0, rounding="double", out_zp=0, dtype=dtype, qmin=qmin, qmax=qmax)
    single_node("q.add", [("a", (act_type(dtype, x.shape), x)), ("b", (act_type(dtype, x.shape), x))], attrs)


@pytest.mark.parametrize("dtype, widest", [(DType.I8, 23), (DType.I16, 15)])
def test_add_left_shift_is_bounded_by_the_verifier(dtype: DType, widest: int) -> None:
    # (q - zp) * 2^left_shift is int32 arithmetic in C: |q - zp| <= 255 (int8) or 65534 (int16)
    _add(dtype, widest)
    for bad in (widest + 1, 40, -1):
        with pytest.raises(QccError, match=f"left_shift={bad} must be >= 0"):
            _add(dtype, bad)
