"""Weights in model.c: string literals no longer than 64 KB, or initializer lists, the same bytes.

MSVC caps a string literal at 65,535 bytes (its NUL included). A model with a weight tensor past
that (a 300x256 fully connected layer: 77,824 packed bytes) is compiled in both forms of
``qcc compile --c-constants``: no literal exceeds the cap, each split weight decodes to exactly the
bytes of the array form's initializer list, both folders build with -Wall -Wextra -pedantic -Werror,
both are verified against the integer reference by qcc compile and give the same outputs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc.backends.c.build import compile_standalone, find_compiler
from qcc.backends.c.footprint import LP64, constant_objects, sizeof
from qcc.backends.c.runtime import load_compiled
from qcc.cli import main
from tests.backends.c.symbols import data_symbols, host_pointer_size

HAVE_CC = shutil.which("cc") is not None or shutil.which("gcc") is not None
pytestmark = pytest.mark.skipif(not HAVE_CC, reason="needs a C compiler")

MSVC_LITERAL_LIMIT = 65535


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("forms")
    rng = np.random.default_rng(7)
    weight = numpy_helper.from_array(rng.normal(0, 0.1, (300, 256)).astype(np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "wide",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 300])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 256])], [weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), root / "wide.onnx")
    np.savez(root / "calib.npz", x=rng.normal(0, 1, (8, 300)).astype(np.float32))
    out = {}
    for form in ("strings", "arrays"):
        out[form] = root / form
        assert main(["compile", str(root / "wide.onnx"), "--calib", str(root / "calib.npz"), "-o", str(out[form]), "--c-constants", form]) == 0
    return out


_LITERAL_LINE = re.compile(r'^\s*"(?P<text>(?:[^"\\]|\\[0-7]{3})*)"(?P<end>[,;]?)$')
_BYTE = re.compile(r"\\([0-7]{3})|(.)", re.S)


def _decode(text: str) -> bytes:
    return bytes(int(octal, 8) if octal else ord(char) for octal, char in _BYTE.findall(text))


def string_literals(model_c: str) -> dict[str, list[bytes]]:
    """Object name -> the decoded string literals initializing it (adjacent pieces joined)."""
    result: dict[str, list[bytes]] = {}
    name, current = "", b""
    for line in model_c.splitlines():
        head = re.match(r"^static const (?:unsigned char (\w+)\[|struct \{)", line)
        if head:
            name = head[1] or ""
        closing = re.match(r"^\} (\w+) = \{$", line)
        if closing:
            name = closing[1]
        m = _LITERAL_LINE.match(line)
        if m is not None:
            current += _decode(m["text"])
        if current and (m is None or m["end"]):  # a literal ends at ',' or ';' or before a line of other C
            result.setdefault(name, []).append(current)
            current = b""
    return result


def initializer_lists(model_c: str) -> dict[str, bytes]:
    """Object name -> the bytes of each ``static const int8_t name[n] = {...}`` list."""
    arrays = re.findall(r"static const int8_t (\w+)\[(\d+)\] = \{\n(.*?)\n\};", model_c, re.S)
    return {name: np.array([int(v) for v in body.replace("\n", " ").split(",")], dtype=np.int8).tobytes() for name, _, body in arrays}


def test_no_string_literal_exceeds_msvcs_64_kb(folders: dict[str, Path]) -> None:
    literals = string_literals((folders["strings"] / "model.c").read_text())
    sizes = [len(piece) + 1 for pieces in literals.values() for piece in pieces]  # + the NUL MSVC counts
    assert max(sizes) <= MSVC_LITERAL_LIMIT
    assert any(len(pieces) > 1 for pieces in literals.values())  # the 77,824-byte weight was split


def test_both_forms_hold_the_same_weight_bytes(folders: dict[str, Path]) -> None:
    literals = string_literals((folders["strings"] / "model.c").read_text())
    arrays = initializer_lists((folders["arrays"] / "model.c").read_text())
    assert '"' not in re.sub(r'#include "[^"]+"|#pragma GCC diagnostic ignored "[^"]+"', "", (folders["arrays"] / "model.c").read_text())
    weights = {name: b"".join(pieces) for name, pieces in literals.items()}
    assert weights and max(len(b) for b in weights.values()) > MSVC_LITERAL_LIMIT
    for name, data in weights.items():
        assert arrays[name] == data, name


def test_both_forms_compile_cleanly_and_give_the_same_outputs(folders: dict[str, Path], tmp_path: Path) -> None:
    for form, folder in folders.items():
        work = tmp_path / form
        shutil.copytree(folder, work)
        compile_standalone(work)  # -std=c99 -Wall -Wextra -pedantic -Werror: the split parts' typedef check holds
    x = np.random.default_rng(3).normal(0, 1, (1, 300)).astype(np.float32)
    outputs = [load_compiled(folder).run_float({"x": x})["y"] for folder in folders.values()]
    assert np.array_equal(outputs[0], outputs[1])


def test_flash_counts_the_split_weight_whole_in_both_forms(folders: dict[str, Path], tmp_path: Path) -> None:
    """The reported LP64 flash equals the sizes of model.o's data symbols in both forms; the split
    parts carry no NUL, so the two forms of this one-weight model take the same flash."""
    if sizeof("pointer", LP64) != host_pointer_size():
        pytest.skip("host is not LP64")
    totals = []
    for form, folder in folders.items():
        obj = tmp_path / f"{form}.o"
        subprocess.run([*find_compiler(), "-std=c99", "-O2", "-c", "model.c", "-o", str(obj)], cwd=folder, check=True)
        flash = constant_objects((folder / "model.c").read_text()).total(LP64)
        assert sum(data_symbols("nm", obj).values()) == flash, form
        totals.append(flash)
    assert totals[0] == totals[1]


def test_an_unknown_form_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["compile", "m.onnx", "-o", str(tmp_path / "o"), "--c-constants", "bytes"])
    assert exit_info.value.code == 2 and "--c-constants" in capsys.readouterr().err
