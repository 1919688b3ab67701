"""tf2onnx's and jax's spellings of layer norm, softmax and an embedding lookup become one op
under canonicalize, compute what the spelled-out form computed, and compile to C that is
byte-equal to the integer reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qcc.interp.interpreter import run_samples
from qcc.onnx.importer import import_model
from qcc.pipeline import PassContext, run_pipeline
from tests.passes.canonical_models import MODELS, samples
from tests.passes.compile_check import compile_verified

DATA_OPS = {"reshape", "transpose", "clip"}


@pytest.mark.parametrize("name", list(MODELS))
def test_spelling_becomes_one_op_computing_the_same(name: str) -> None:
    build, op = MODELS[name]
    model = build()
    after = run_pipeline(import_model(model), "fold-constants,canonicalize", PassContext())
    assert [n.op for n in after.nodes if n.op not in DATA_OPS and n.op != "tanh"] == [op]
    x = samples(model, 4, seed=2)
    want, got = run_samples(import_model(model), {"x": x})["y"], run_samples(after, {"x": x})["y"]
    np.testing.assert_allclose(got, want, atol=2e-6, rtol=0)  # layer_norm divides once in float32


def test_one_hot_gather_is_exact_for_ids_out_of_range() -> None:
    model = MODELS["one_hot_embedding"][0]()
    after = run_pipeline(import_model(model), "fold-constants,canonicalize", PassContext())
    ids = np.array([[-7, -1, 0, 9, 10, 11, 2**31 - 1, -(2**31)] * 2], np.int32)
    want = run_samples(import_model(model), {"x": ids})["y"]
    assert np.array_equal(run_samples(after, {"x": ids})["y"], want)
    assert np.all(want[0, [0, 1, 4, 5, 6, 7]] == 0.0) and np.all(want[0, [2, 3]] != 0.0)  # tanh(0): no row matched


@pytest.mark.parametrize("name", list(MODELS))
def test_qcc_compile_verifies_c_against_the_reference(name: str, tmp_path: Path) -> None:
    model = MODELS[name][0]()
    compile_verified(model, samples(model, 8, seed=0), tmp_path, name, verify=8)
