"""Random command lines: every subcommand with options drawn at random, pointing at real, missing,
wrong-kind and odd-named files."""

from __future__ import annotations

import numpy as np
import onnx
from hypothesis import strategies as st

from tests.fuzz.harness import check_case, fuzz_targets
from tests.fuzz.seeds import calibration, case_folder, conv_gemm_model, ir_seeds

COMMANDS = ("import", "opt", "run", "compile", "quantize", "eval", "targets", "passes")
FILES = ("m.onnx", "f.qir", "q.qir", "c.npz", "x.npy", "missing.onnx", "missing.qir", "dir", "m.txt", "", "-", "out.qir", "out", "y.npz")
OPTIONS = {
    "-o": FILES, "--calib": FILES, "--input": FILES, "--data": FILES, "-p": ("dce", "fold-constants,dce", "calibrate,quantize", "", ",,"),
    "--recipe": ("fast", "dfq", "x"), "--target": ("generic-int8", "dsp-w4a16", "mcu-int8-per-tensor", "nope"),
    "--input-shape": ("x=1x1x4x4", "x=0", "y=1", "x=1x1x4", "=", "x=axb"), "--verify": ("0", "1", "-1", "x"), "--limit": ("1", "0", "-3"),
    "--name": ("m", "", "1bad", "a b", "int"), "--seed": ("0", "-5", "x"), "--print-ir-after": ("all", "dce", ""),
    "--summary": None, "--timing": None, "--per-layer": None, "--no-verify": None, "-v": None, "--compare-onnxruntime": None,
}


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    argv = [draw(st.sampled_from(COMMANDS))]
    argv += draw(st.lists(st.sampled_from(FILES), max_size=3))
    for option in draw(st.lists(st.sampled_from(sorted(OPTIONS)), max_size=5, unique=True)):
        values = OPTIONS[option]
        argv += [option] if values is None else [option, draw(st.sampled_from(values))]
    return argv


@fuzz_targets(40, argv=command_lines())
def _cli(argv: list[str]) -> None:
    with case_folder() as folder:
        onnx.save(conv_gemm_model(), folder / "m.onnx")
        for name in ("conv_gemm", "conv_gemm_int8"):
            text, sidecar = ir_seeds()[name]
            stem = "q" if name.endswith("int8") else "f"
            (folder / f"{stem}.qir").write_text(text)
            if sidecar is not None:
                (folder / f"{stem}.npz").write_bytes(sidecar)
        np.savez(folder / "c.npz", x=calibration(3))
        np.save(folder / "x.npy", calibration(2))
        (folder / "dir").mkdir()
        (folder / "m.txt").write_text("not a model")
        paths = {name: str(folder / name) for name in FILES if name not in ("", "-")}
        asked = [value for option, value in zip(argv, argv[1:]) if option == "-o"]  # e.g. -o missing.qir: a new file
        check_case("cli " + argv[0], [paths.get(a, a) for a in argv], folder, outputs=["out.qir", "out", "y.npz", *asked])


test_command_lines, test_command_lines_long = _cli
