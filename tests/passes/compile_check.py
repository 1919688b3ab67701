"""`qcc compile --verify N` on a small ONNX model, as a user runs it: shared by the spelling tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx


def compile_verified(model: onnx.ModelProto, calibration: np.ndarray, folder: Path, name: str, verify: int) -> subprocess.CompletedProcess[str]:
    """Save the model and its calibration array (input 'x'), run `qcc compile` in a subprocess, and
    assert it exits 0 having checked the C byte for byte against the integer reference."""
    onnx.save(model, folder / f"{name}.onnx")
    np.savez(folder / "calib.npz", x=calibration)
    proc = subprocess.run(
        [sys.executable, "-m", "qcc.cli", "compile", str(folder / f"{name}.onnx"), "-o", str(folder / "out"),
         "--calib", str(folder / "calib.npz"), "--verify", str(verify)],
        check=False, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "byte-equal" in proc.stdout and (folder / "out" / "model.c").exists()
    return proc
