"""docs/ops.md is the op registry rendered as text: it must list every registered op and be current."""

from __future__ import annotations

from pathlib import Path

from qcc.ir.opdoc import WRITE_COMMAND, is_integer_op, main, render
from qcc.ir.ops import all_ops

OPS_MD = Path(__file__).resolve().parents[2] / "docs" / "ops.md"


def test_docs_ops_md_is_current() -> None:
    assert OPS_MD.read_text(encoding="utf-8") == render(), f"docs/ops.md is out of date: run `{WRITE_COMMAND}`"


def test_every_op_has_a_heading_in_its_section() -> None:
    text = render()
    integer_start = text.index("## Integer ops")
    for name in all_ops():
        heading = f"### `{name}("
        assert heading in text, name
        assert (text.index(heading) > integer_start) == is_integer_op(name), name


def test_integer_ops_are_the_q_ops_and_the_boundary() -> None:
    assert is_integer_op("q.conv") and is_integer_op("quantize") and is_integer_op("dequantize")
    assert not is_integer_op("conv") and not is_integer_op("max")


def test_write_creates_the_file(tmp_path: Path) -> None:
    target = tmp_path / "ops.md"
    assert main(["--write", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render()
