"""ONNX models damaged byte by byte and structurally, through qcc import (and quantize/compile for
the small model): each ends in success or one clean error, with nothing written on failure."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from tests.fuzz.harness import check_case, fuzz_targets
from tests.fuzz.mutations import mutated_bytes, mutated_model
from tests.fuzz.seeds import calibration, case_folder, onnx_seeds

SEEDS = st.sampled_from(sorted(onnx_seeds()))


def _run_on(model: bytes, command: str) -> None:
    with case_folder() as folder:
        (folder / "m.onnx").write_bytes(model)
        np.savez(folder / "c.npz", x=calibration())
        argv = {
            "import": ["import", str(folder / "m.onnx"), "-o", str(folder / "out.qir")],
            "quantize": ["quantize", str(folder / "m.onnx"), "--calib", str(folder / "c.npz"), "-o", str(folder / "out.qir")],
            "compile": ["compile", str(folder / "m.onnx"), "--calib", str(folder / "c.npz"), "-o", str(folder / "out"), "--verify", "2"],
        }[command]
        check_case(f"onnx {command}", argv, folder, outputs=["out.qir", "out"])


@st.composite
def byte_cases(draw: st.DrawFn) -> tuple[bytes, str]:
    seed = draw(SEEDS)
    command = draw(st.sampled_from(["import", "quantize", "compile"])) if seed == "conv_gemm" else "import"
    return draw(mutated_bytes(onnx_seeds()[seed])), command


@st.composite
def structured_cases(draw: st.DrawFn) -> tuple[bytes, str]:
    seed = draw(SEEDS)
    command = draw(st.sampled_from(["import", "quantize", "compile"])) if seed == "conv_gemm" else "import"
    return draw(mutated_model(onnx_seeds()[seed])), command


@fuzz_targets(40, case=byte_cases())
def _bytes(case: tuple[bytes, str]) -> None:
    _run_on(*case)


@fuzz_targets(40, case=structured_cases())
def _structured(case: tuple[bytes, str]) -> None:
    _run_on(*case)


test_byte_mutations, test_byte_mutations_long = _bytes
test_structural_mutations, test_structural_mutations_long = _structured
