"""Calibration and input data that is wrong (NaN/Inf, dtype, shape, keys, empty, huge, not an
array file at all), through quantize --calib, compile --calib, run --input and eval --data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from hypothesis import strategies as st

from qcc.fileio import save_npz
from tests.fuzz.harness import check_case, fuzz_targets
from tests.fuzz.mutations import bad_samples, mutated_bytes
from tests.fuzz.seeds import calibration, case_folder, conv_gemm_model, ir_seeds

KEYS = ("x", "y", "", "label", "labels", "X", "x ")


@st.composite
def data_files(draw: st.DrawFn) -> tuple[str, dict[str, np.ndarray] | bytes]:
    """(file name, arrays to save or raw bytes): an .npz, an .npy, or a damaged file."""
    form = draw(st.sampled_from(["npz", "npz", "npy", "corrupt", "empty_npz", "other_suffix"]))
    if form == "npz":
        keys = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=3, unique=True))
        return "d.npz", {k: draw(bad_samples(calibration(draw(st.integers(1, 6))))) for k in keys}
    if form == "npy":
        return "d.npy", {"": draw(bad_samples(calibration(3)))}
    if form == "empty_npz":
        return "d.npz", {}
    if form == "other_suffix":
        return draw(st.sampled_from(["d.txt", "d", "d.npz.gz"])), {"x": calibration(2)}
    return "d.npz", draw(mutated_bytes(_npz_bytes({"x": calibration(2)})))


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    import io

    buffer = io.BytesIO()
    save_npz(buffer, arrays)
    return buffer.getvalue()


def _write(folder: Path, name: str, content: dict[str, np.ndarray] | bytes) -> Path:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif name.endswith(".npy"):
        np.save(path, content[""], allow_pickle=False)
    else:
        path.write_bytes(_npz_bytes(content))
    return path


@fuzz_targets(40, case=data_files(), command=st.sampled_from(["quantize", "compile", "run", "run_int8", "eval"]))
def _data(case: tuple[str, dict[str, np.ndarray] | bytes], command: str) -> None:
    with case_folder() as folder:
        data = str(_write(folder, *case))
        onnx.save(conv_gemm_model(), folder / "m.onnx")
        text, sidecar = ir_seeds()["conv_gemm_int8"]
        (folder / "q.qir").write_text(text)
        if sidecar is not None:
            (folder / "q.npz").write_bytes(sidecar)
        model = str(folder / "m.onnx")
        argv = {
            "quantize": ["quantize", model, "--calib", data, "-o", str(folder / "out.qir")],
            "compile": ["compile", model, "--calib", data, "-o", str(folder / "out"), "--verify", "2"],
            "run": ["run", model, "--input", data, "-o", str(folder / "y.npz")],
            "run_int8": ["run", str(folder / "q.qir"), "--input", data, "-o", str(folder / "y.npz")],
            "eval": ["eval", model, str(folder / "q.qir"), "--data", data],
        }[command]
        check_case(f"data {command}", argv, folder, outputs=["out.qir", "out", "y.npz"])


test_data_mutations, test_data_mutations_long = _data
