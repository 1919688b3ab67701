"""The example model's C cross-compiled for aarch64 and run under qemu: byte-equal to the reference.

Slow (``python -m pytest -m slow tests/backends/c/test_aarch64.py``); skipped without
``aarch64-linux-gnu-gcc`` and ``qemu-aarch64`` (Debian: gcc-aarch64-linux-gnu qemu-user). The
standalone check (main.c, statically linked, -O2) gets float32 inputs, quantizes, runs and
dequantizes them with the generated helpers; its output files must hold exactly the bytes of the
numpy integer reference's float outputs on the same samples.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from qcc.backends.numpy_int.executor import run_integer
from qcc.cli import main
from qcc.model_io import load_graph
from tests.quant.example_model import CALIB, MODEL, TEST

CROSS_CC = shutil.which("aarch64-linux-gnu-gcc")
QEMU = shutil.which("qemu-aarch64")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(CROSS_CC is None or QEMU is None,
                                                   reason="needs aarch64-linux-gnu-gcc and qemu-aarch64 (gcc-aarch64-linux-gnu, qemu-user)")]
SAMPLES = 8


def test_aarch64_build_under_qemu_equals_the_integer_reference(tmp_path: Path) -> None:
    out = tmp_path / "digits"
    assert main(["compile", str(MODEL), "--calib", str(CALIB), "-o", str(out), "--verify", "0"]) == 0
    sources = sorted(p.name for p in out.glob("*.c"))
    subprocess.run([CROSS_CC, "-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror", "-static", "-o", "model-aarch64",  # type: ignore[list-item]
                    *sources, "-lm"], cwd=out, check=True, capture_output=True)
    graph = load_graph(out / "model.qir")
    x = np.load(TEST)["input"][:SAMPLES].astype(np.float32)
    for i in range(SAMPLES):
        sample = x[i : i + 1]
        sample.tofile(out / "in.f32")
        subprocess.run([QEMU, "./model-aarch64", "-f", "in.f32", "out.f32"], cwd=out, check=True, capture_output=True)  # type: ignore[list-item]
        want = run_integer(graph, {"input": sample})["logits"].astype(np.float32)
        assert (out / "out.f32").read_bytes() == want.tobytes(), f"sample {i}"
