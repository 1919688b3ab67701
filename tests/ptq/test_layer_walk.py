"""The layer walk: correct-bias and adaround give exactly the graphs of the per-layer definition
(the network re-run from the input for every layer) on the example model; every node runs once
per sample and path; activations beyond the memory budget go to disk and the files are removed."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

from qcc import import_model
from qcc.targets import get_target
from qcc.calibration.source import CalibrationSet
from qcc.errors import PipelineError
from qcc.interp.interpreter import evaluate, float_node
from qcc.ir.core import Graph, Node
from qcc.passes.adaround import AdaRound
from qcc.pipeline import PassContext, run_pipeline
from qcc.ptq.activations import ActivationStore
from qcc.ptq.layers import is_weight_layer
from qcc.ptq.rounding import AdaRoundConfig, Columns, layer_forward, learn_rounding, reconstruction_loss
from qcc.ptq.settings import quant_settings
from qcc.ptq.walk import LayerInputs, NetworkPath, walk_layers
from tests.ptq.graphs import LayerSpec, conv_chain, copy_graph, samples
from tests.ptq.per_layer_reference import adaround_per_layer, capture, correct_bias_per_layer
from tests.quant.example_model import CALIB, MODEL

SAMPLES = 12
PREPARE = "fold-constants,fold-batchnorm,equalize{relu6-as-relu=true},absorb-high-bias,fuse-activation,dce,calibrate"


def _example(weights: int) -> tuple[Graph, list[dict[str, np.ndarray]], PassContext]:
    calib = [{"input": x[None]} for x in np.load(CALIB)["input"][:SAMPLES]]
    ctx = PassContext(calibration=calib, target=get_target("dsp-w4a16" if weights == 4 else "generic-int8"))
    return run_pipeline(import_model(MODEL), f"quant-scheme{{weights={weights} acts=8}},{PREPARE}", ctx), calib, ctx


def _constants(graph: Graph) -> dict[str, np.ndarray]:
    return {c.name: np.asarray(c.data) for c in graph.constants}


def _assert_same_constants(got: Graph, want: Graph) -> None:
    a, b = _constants(got), _constants(want)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.parametrize("weights", [8, 4])
def test_correct_bias_equals_the_per_layer_definition_on_the_example(weights: int) -> None:
    graph, calib, ctx = _example(weights)
    reference = copy_graph(graph)
    correct_bias_per_layer(reference, calib, quant_settings(reference, ctx))
    got = run_pipeline(graph, "correct-bias{guard=false}", ctx)
    _assert_same_constants(got, reference)
    assert any(not np.array_equal(a, b) for a, b in zip(_constants(got).values(), _constants(_example(weights)[0]).values())), "biases changed"


def test_adaround_equals_the_per_layer_definition_on_the_example() -> None:
    graph, calib, ctx = _example(4)
    options = AdaRound(iters=40, batch=4, seed=3, guard=False)
    reference = copy_graph(graph)
    adaround_per_layer(reference, calib, quant_settings(reference, ctx), options, seed=3)
    got = run_pipeline(graph, str(options), ctx)
    _assert_same_constants(got, reference)


def test_spilling_everything_to_disk_changes_nothing_and_leaves_no_files(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    graph, _, ctx = _example(4)
    in_memory = run_pipeline(copy_graph(graph), "correct-bias,adaround{iters=20 batch=4}", ctx)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    logs: list[str] = []
    ctx.log = logs.append
    on_disk = run_pipeline(graph, "correct-bias{memory-mb=0},adaround{iters=20 batch=4 memory-mb=0}", ctx)
    _assert_same_constants(on_disk, in_memory)
    assert any("held in memory at most 0.0 MiB, spilled" in line and "spilled 0.0 MiB" not in line for line in logs), logs
    assert os.listdir(tmp_path) == []


def _chain() -> tuple[Graph, CalibrationSet]:
    rng = np.random.default_rng(0)
    specs = [LayerSpec("conv", 4, "relu", False, True), LayerSpec("dw", 4, "relu6", True, True), LayerSpec("pw", 3, "none", True, True), LayerSpec("pw", 2, "relu", False, True)]
    graph = conv_chain(rng, 2, specs)
    return graph, CalibrationSet(graph, [{"x": x[None]} for x in samples(graph, 5, rng)])


@pytest.mark.parametrize("batch_bytes", [0, 1 << 20])
def test_each_needed_node_runs_once_per_sample_and_path(batch_bytes: int) -> None:
    """One sample per call with no batch budget, all five in one call with 1 MiB; either way each
    needed node computes every sample once per path (samples counted on the operand's axis 0)."""
    graph, data = _chain()
    runs: dict[tuple[str, str], int] = {}
    calls: dict[tuple[str, str], int] = {}

    def counting(path: str):  # type: ignore[no-untyped-def]
        def evaluate_node(node: Node, operands):  # type: ignore[no-untyped-def]
            runs[(path, node.name)] = runs.get((path, node.name), 0) + operands[0].shape[0]
            calls[(path, node.name)] = calls.get((path, node.name), 0) + 1
            return float_node(node, operands)

        return evaluate_node

    layers = [n for n in graph.nodes if is_weight_layer(n)][:3]  # the last layer and its relu feed no visited layer
    seen: list[str] = []

    def visit(node: Node, inputs: LayerInputs) -> None:
        want = np.concatenate([capture(graph, feeds, node.inputs[0]) for feeds in data])
        np.testing.assert_array_equal(inputs.stacked("a", node.inputs[0]), want)
        seen.append(node.name)

    with ActivationStore(1 << 20) as store:
        paths = [NetworkPath("a", counting("a")), NetworkPath("b", counting("b"))]
        count = walk_layers(graph, data, paths, layers, visit, store, batch_bytes=batch_bytes)
        assert len(store) == 0, "every activation is freed after its last use"
    assert count == 5 and seen == [n.name for n in layers]
    upstream = [n.name for n in graph.nodes[: graph.nodes.index(layers[-1])]]
    assert runs == {(p, name): 5 for p in "ab" for name in upstream}
    assert calls == {(p, name): 5 if batch_bytes == 0 else 1 for p in "ab" for name in upstream}


def test_loss_chunks_and_columns_follow_the_budget_not_the_sample_count() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 3, 6, 6)).astype(np.float32)
    w = rng.standard_normal((1, 4, 27)).astype(np.float32)
    attrs = {"strides": [2, 2], "pads": [1, 1, 1, 1], "dilations": [1, 1], "group": 1}
    sample_bytes = 27 * 9 * 4  # I*K x P float32 for one sample
    small = Columns("conv", attrs, x, 1, (3, 3), chunk_bytes=3 * sample_bytes)
    large = Columns("conv", attrs, x, 1, (3, 3))
    assert (small.max_samples, small.loss_chunk, large.loss_chunk) == (3, 3, 64)  # 64 at most, fewer when the budget says so
    want = evaluate("conv", [x, w.reshape(4, 3, 3, 3)], attrs)[0].reshape(40, 1, 4, 9)
    np.testing.assert_allclose(layer_forward(w, small.take(np.arange(7, 12)), np.zeros((1, 4, 1), np.float32)), want[7:12], rtol=1e-5, atol=1e-5)
    bias, clamp = np.zeros((1, 4, 1)), (-np.inf, np.inf)
    assert reconstruction_loss(w, small, want, bias, clamp) == pytest.approx(reconstruction_loss(w, large, want, bias, clamp), abs=1e-9)


@pytest.mark.parametrize("pipeline", ["correct-bias{memory-mb=-1}", "adaround{memory-mb=-1}"])
def test_a_negative_memory_budget_is_refused(pipeline: str) -> None:
    graph, data = _chain()
    with pytest.raises(PipelineError, match="memory-mb=-1"):
        run_pipeline(graph, f"calibrate,{pipeline}", PassContext(calibration=list(data)))


def test_adaround_steps_take_no_more_samples_than_the_budget_allows() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((30, 2, 5, 5)).astype(np.float32)
    w = rng.standard_normal((1, 3, 18))
    attrs = {"strides": [1, 1], "pads": [1, 1, 1, 1], "dilations": [1, 1], "group": 1}
    taken: list[int] = []

    class Recording(Columns):
        def take(self, index: np.ndarray, positions: np.ndarray | None = None) -> np.ndarray:
            taken.append(len(index))
            return super().take(index, positions)

    columns = Recording("conv", attrs, x, 1, (3, 3), chunk_bytes=4 * 18 * 25 * 4)  # four samples' columns
    target = layer_forward(w.astype(np.float32), Columns("conv", attrs, x, 1, (3, 3)).take(np.arange(30)), np.zeros((1, 3, 1), np.float32))
    learn_rounding(w, np.full((1, 3, 1), 0.1), (-7, 7), columns, target, np.zeros((1, 3, 1)), (-np.inf, np.inf), AdaRoundConfig(iters=5, batch=32), rng)
    assert max(taken) == 4 and len(taken) > 5  # steps and loss chunks alike
