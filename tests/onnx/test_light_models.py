"""The nine real-architecture models of the onnx wheel import, round-trip through the text form and
match their shipped expected outputs (the ONNX runner's tolerances: rtol 1e-3, atol 1e-7)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from qcc.interp.interpreter import run
from qcc.ir import parse, print_graph, verify
from qcc.onnx.importer import import_model
from tests.onnx.light_models import LIGHT_MODELS, light_model_data, light_model_path


def test_all_nine_light_models_are_present() -> None:
    assert len(LIGHT_MODELS) == 9, LIGHT_MODELS


@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model_imports_round_trips_and_matches(name: str) -> None:
    model = onnx.load(light_model_path(name))
    graph = import_model(model)
    verify(graph)
    text, blobs = print_graph(graph)
    reparsed = parse(text, blobs, filename=name)
    assert print_graph(reparsed)[0] == text
    feeds, expected = light_model_data(model, name)
    outputs = run(reparsed, feeds)  # inputs keep their ONNX names (gpu_0/data_0), through the text form too
    assert len(outputs) == len(expected)
    for got, want in zip(outputs.values(), expected):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-7)
