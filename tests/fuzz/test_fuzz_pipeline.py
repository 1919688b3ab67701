"""Pipeline text and pass options, built from the registered passes with wrong values and damaged
character by character, through qcc opt, quantize -p and quantize --recipe."""

from __future__ import annotations

import numpy as np
import onnx
from hypothesis import strategies as st

from qcc.pipeline import all_passes, options_of
from tests.fuzz.harness import check_case, fuzz_targets
from tests.fuzz.mutations import mutated_bytes
from tests.fuzz.seeds import calibration, case_folder, conv_gemm_model, ir_seeds

# small numbers only: a pass asked for 2**31 AdaRound iterations is slow, not broken
OPTION_VALUES = ("0", "1", "2", "-1", "4", "8", "16", "0.5", "-0.5", "nan", "inf", "true", "false", "yes", "",
                 "minmax", "mse", "entropy", "percentile", "double", "single", "a,b", "conv:acts=16", "x:weights=4", "{", "}")
RECIPES = ("fast", "dfq", "adaround", "nope")


@st.composite
def pipeline_text(draw: st.DrawFn) -> str:
    passes = all_passes()
    items = []
    for name in draw(st.lists(st.sampled_from(sorted(passes) + ["no-such-pass"]), min_size=1, max_size=5)):
        options = [opt for opt, _, _ in options_of(passes[name])] if name in passes else []
        chosen = draw(st.lists(st.sampled_from(options + ["bogus"]), max_size=3, unique=True))
        body = " ".join(f"{opt}={draw(st.sampled_from(OPTION_VALUES))}" for opt in chosen)
        items.append(f"{name}{{{body}}}" if chosen else name)
    text = ",".join(items)
    if draw(st.booleans()):
        text = draw(mutated_bytes(text.encode())).decode("utf-8", errors="replace").replace("\0", "")
    return text


@st.composite
def pipeline_cases(draw: st.DrawFn) -> tuple[str, str]:
    command = draw(st.sampled_from(["opt", "quantize", "recipe"]))
    if command == "recipe":
        recipe = draw(st.sampled_from(RECIPES))
        options = draw(st.lists(st.sampled_from(["weights", "acts", "iters", "per-channel", "method", "bogus"]), max_size=2, unique=True))
        body = " ".join(f"{o}={draw(st.sampled_from(OPTION_VALUES))}" for o in options)
        return command, f"{recipe}{{{body}}}" if options else recipe
    return command, draw(pipeline_text())


@fuzz_targets(40, case=pipeline_cases())
def _pipeline(case: tuple[str, str]) -> None:
    command, text = case
    with case_folder() as folder:
        qir, _ = ir_seeds()["conv_gemm"]
        (folder / "m.qir").write_text(qir)
        onnx.save(conv_gemm_model(), folder / "m.onnx")
        np.savez(folder / "c.npz", x=calibration(4))
        out = str(folder / "out.qir")
        argv = {
            "opt": ["opt", str(folder / "m.qir"), "-p", text, "--calib", str(folder / "c.npz"), "-o", out],
            "quantize": ["quantize", str(folder / "m.onnx"), "-p", text, "--calib", str(folder / "c.npz"), "-o", out],
            "recipe": ["quantize", str(folder / "m.onnx"), "--recipe", text, "--calib", str(folder / "c.npz"), "-o", out],
        }[command]
        check_case(f"pipeline {command}", argv, folder, outputs=["out.qir"])


test_pipeline_mutations, test_pipeline_mutations_long = _pipeline
