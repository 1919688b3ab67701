"""Recipes: each is a pipeline that parses and runs; `qcc quantize --recipe` uses them and keeps
one-line errors; `fast` is the pipeline qcc quantize always ran by default."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qcc import import_model
from qcc.backends.numpy_int.executor import integer_node
from qcc.targets import TARGETS, get_target
from qcc.errors import PipelineError
from qcc.accuracy import evaluate_quantized
from qcc.pipeline import PassContext, format_pipeline, parse_pipeline, run_pipeline
from qcc.recipes import RECIPES, recipe_pipeline
from tests.quant.example_model import CALIB, MODEL, TEST
from tests.test_cli import assert_clean_error, qcc


@pytest.fixture(scope="module")
def small_calib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 of the 256 calibration samples: enough to exercise every pass in a second or two."""
    path = tmp_path_factory.mktemp("calib") / "calib16.npz"
    np.savez(path, input=np.load(CALIB)["input"][:16])
    return path


def test_fast_is_the_former_default_pipeline() -> None:
    from qcc.cli import DEFAULT_PIPELINE

    assert recipe_pipeline("fast") == DEFAULT_PIPELINE


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_recipe_is_canonical_pipeline_text(name: str) -> None:
    text = recipe_pipeline(name)
    assert format_pipeline(parse_pipeline(text)) == text
    assert "weights=" not in text and "acts=" not in text, "without options a recipe leaves the widths to the target"
    quality = RECIPES[name].method == "search"  # dfq and adaround: searched calibration, accumulator outputs
    assert text.startswith("quant-scheme{method=search outputs=accumulator},") == quality
    assert text.startswith("quant-scheme{") == quality


def test_options_are_stated_once_in_the_scheme() -> None:
    text = recipe_pipeline("adaround{weights=4 per-channel=false iters=50 method=mse}")
    assert text.startswith("quant-scheme{weights=4 per-channel=false method=mse outputs=accumulator},")
    assert "adaround{iters=50}" in text and text.endswith(",quantize")
    dfq = recipe_pipeline("dfq{acts=16}")
    assert dfq.startswith("quant-scheme{acts=16 method=search outputs=accumulator},") and "correct-bias," in dfq


def test_quality_recipes_return_accumulator_outputs_unless_told_not_to() -> None:
    """dfq and adaround maximize output quality: conv/gemm graph outputs stay int32 accumulators
    (docs/arithmetic.md §3.20); `outputs=int8` opts out; fast keeps int8 outputs."""
    assert "outputs=accumulator" in recipe_pipeline("dfq").split(",")[0]
    assert "outputs=accumulator" in recipe_pipeline("adaround").split(",")[0]
    assert recipe_pipeline("dfq{outputs=int8}").startswith("quant-scheme{method=search},")
    assert "outputs" not in recipe_pipeline("fast")
    assert recipe_pipeline("fast{outputs=accumulator}").startswith("quant-scheme{outputs=accumulator},")


def test_passes_agree_on_the_grid_because_they_read_one_scheme() -> None:
    """correct-bias, adaround and quantize have no width options to disagree with (issue: a
    `correct-bias{weights=4}` that corrected for 4 bits while quantize used 8)."""
    for name in ("calibrate", "correct-bias", "adaround", "quantize"):
        with pytest.raises(PipelineError, match="has no option 'weights'"):
            parse_pipeline(f"{name}{{weights=4}}")


@pytest.mark.parametrize(
    "text, message",
    [
        ("nope", "unknown recipe 'nope' (known: fast, dfq, adaround)"),
        ("fast{weights=four}", "option 'weights': 'four' is not an integer"),
        ("fast{iters=5}", "option 'iters' is only for the adaround recipe"),
        ("dfq{colour=red}", "bad option 'colour=red'"),
        ("fast{method=best}", "is not one of auto, minmax, percentile, mse, entropy"),
        ("fast{per-channel=maybe}", "is not true or false"),
        ("fast{weights=4", "options must end with '}'"),
    ],
)
def test_bad_recipes(text: str, message: str) -> None:
    with pytest.raises(PipelineError, match=message.replace("(", r"\(").replace(")", r"\)")):
        recipe_pipeline(text)


@pytest.mark.parametrize("recipe", ["fast", "dfq", "adaround{iters=20}"])
def test_recipes_run_on_the_example_model(recipe: str, small_calib: Path) -> None:
    target = get_target("mcu-int8-per-tensor")
    graph = run_pipeline(import_model(MODEL), recipe_pipeline(recipe), PassContext(calibration=str(small_calib), target=target))
    report = evaluate_quantized(import_model(MODEL), graph, str(TEST), quant_evaluator=integer_node, limit=40)
    assert report.quant_top1 >= 0.85


def test_cli_recipe(tmp_path: Path, small_calib: Path) -> None:
    out = tmp_path / "q.qir"
    proc = qcc("quantize", MODEL, "--calib", small_calib, "-o", out, "--recipe", "dfq", "--target", "mcu-int8-per-tensor", "-v")
    assert proc.returncode == 0, proc.stderr
    assert out.exists()
    assert ("pipeline: quant-scheme{method=search outputs=accumulator},fold-constants,canonicalize,matmul-to-gemm,fold-batchnorm,fuse-activation,fuse-elementwise,dce,"
            "equalize{relu6-as-relu=true guard=true},absorb-high-bias,calibrate,correct-bias,quantize") in proc.stderr
    assert "equalize: output SQNR on" in proc.stderr  # the guarded equalization judged itself
    assert "correct-bias: output SQNR on" in proc.stderr  # and so did bias correction


def test_cli_recipe_and_pipeline_exclude_each_other(tmp_path: Path) -> None:
    proc = qcc("quantize", MODEL, "--calib", CALIB, "-o", tmp_path / "q.qir", "--recipe", "fast", "-p", "calibrate,quantize")
    assert_clean_error(proc, "not allowed with argument")
    assert not list(tmp_path.iterdir())


def test_cli_unknown_recipe(tmp_path: Path) -> None:
    assert_clean_error(qcc("quantize", MODEL, "--calib", CALIB, "-o", tmp_path / "q.qir", "--recipe", "best"), "unknown recipe 'best'")
    assert not list(tmp_path.iterdir())


def test_cli_adaround_before_calibrate(tmp_path: Path, small_calib: Path) -> None:
    proc = qcc("quantize", MODEL, "--calib", small_calib, "-o", tmp_path / "q.qir", "-p", "fold-batchnorm,adaround,calibrate,quantize")
    assert_clean_error(proc, "adaround needs a calibrated graph", "run calibrate first")
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_adaround_recipe_wins_back_w4_per_tensor() -> None:
    """The full recipe on the example model (about a minute on 2 cores): W4A8 per tensor collapses
    to chance with nearest rounding; CLE + AdaRound brings it back near float."""
    target = get_target("dsp-w4a16")
    graph = run_pipeline(import_model(MODEL), recipe_pipeline("adaround{weights=4 acts=8 per-channel=false}"), PassContext(calibration=str(CALIB), target=target))
    report = evaluate_quantized(import_model(MODEL), graph, str(TEST), quant_evaluator=integer_node)
    assert report.quant_top1 >= 0.98
    assert report.outputs["logits"].sqnr_db >= 20.0
