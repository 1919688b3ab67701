"""IR text damaged line by line and token by token, through qcc opt, run and compile."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from tests.fuzz.harness import check_case, fuzz_targets
from tests.fuzz.mutations import mutated_text
from tests.fuzz.seeds import calibration, case_folder, ir_seeds


@st.composite
def ir_cases(draw: st.DrawFn) -> tuple[str, str, bytes | None, str]:
    seed = draw(st.sampled_from(sorted(ir_seeds())))
    text, sidecar = ir_seeds()[seed]
    commands = ["opt", "run"] + (["compile"] if seed.endswith("int8") else [])
    return seed, draw(mutated_text(text)), sidecar, draw(st.sampled_from(commands))


@fuzz_targets(40, case=ir_cases())
def _ir(case: tuple[str, str, bytes | None, str]) -> None:
    seed, text, sidecar, command = case
    with case_folder() as folder:
        (folder / "m.qir").write_text(text)
        if sidecar is not None:
            (folder / "m.npz").write_bytes(sidecar)
        np.savez(folder / "c.npz", x=calibration(4))
        np.save(folder / "x.npy", calibration(2) if seed.startswith("conv_gemm") else np.zeros((1, 1, 16, 16), np.float32))
        argv = {
            "opt": ["opt", str(folder / "m.qir"), "-p", "fold-constants,dce", "-o", str(folder / "out.qir")],
            "run": ["run", str(folder / "m.qir"), "--input", str(folder / "x.npy"), "-o", str(folder / "y.npz")],
            "compile": ["compile", str(folder / "m.qir"), "--calib", str(folder / "c.npz"), "-o", str(folder / "out"), "--verify", "2"],
        }[command]
        check_case(f"ir {command}", argv, folder, outputs=["out.qir", "y.npz", "out"])


test_ir_text_mutations, test_ir_text_mutations_long = _ir
