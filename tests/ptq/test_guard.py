"""The network-level guard of the weight-changing PTQ passes: a step is kept only if the fake-quant
output SQNR on calibration samples does not drop; otherwise every weight and bias goes back exactly."""

from __future__ import annotations

import numpy as np

from qcc.pipeline import PassContext, run_pipeline
from qcc.ptq.guard import OutputCheck, keep_if_better, split_samples
from qcc.ir.rewrite import add_const_operand
from qcc.ptq.layers import is_weight_layer, set_weight
from qcc.ptq.settings import quant_settings
from tests.ptq.graphs import LayerSpec, conv_chain, samples


def _calibrated(seed: int):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    graph = conv_chain(rng, 3, [LayerSpec("conv", 6, "relu", True, True), LayerSpec("pw", 4, "none", False, True)])
    calib = [{graph.inputs[0].name: x[None]} for x in samples(graph, 8, rng, 0.0, 1.0)]
    ctx = PassContext(calibration=calib)
    return run_pipeline(graph, "calibrate", ctx), calib, ctx


def test_a_step_that_hurts_the_outputs_is_reverted_exactly() -> None:
    graph, calib, ctx = _calibrated(1)
    layers = [n for n in graph.nodes if is_weight_layer(n)]
    before = {n.name: np.asarray(n.inputs[1].data).copy() for n in layers}
    logs: list[str] = []

    def scramble() -> None:
        for node in layers:
            set_weight(graph, node, -2.0 * np.asarray(node.inputs[1].data))

    kept = keep_if_better(graph, layers, quant_settings(graph, ctx), calib, scramble, logs.append, "test")
    assert not kept and "reverted" in logs[-1]
    for node in layers:
        np.testing.assert_array_equal(np.asarray(node.inputs[1].data), before[node.name])


def test_a_step_that_helps_is_kept() -> None:
    graph, calib, ctx = _calibrated(2)
    layers = [n for n in graph.nodes if is_weight_layer(n)]
    settings = quant_settings(graph, ctx)
    check = OutputCheck.of(graph, calib)
    logs: list[str] = []
    kept = keep_if_better(graph, layers, settings, calib, lambda: None, logs.append, "test")  # no change: not worse
    assert kept and "kept" in logs[-1]
    assert check.sqnr_db(graph, settings) > 10.0


def test_adaround_in_a_recipe_is_never_worse_than_nearest_on_the_calibration_outputs() -> None:
    graph, calib, ctx = _calibrated(3)
    settings = quant_settings(graph, ctx)
    check = OutputCheck.of(graph, calib)
    nearest = check.sqnr_db(graph, settings)
    after = run_pipeline(graph, "adaround{iters=30 batch=4}", ctx)
    assert check.sqnr_db(after, settings) >= nearest


def test_the_judging_samples_are_held_out_when_there_are_enough() -> None:
    graph, _, _ = _calibrated(4)
    name = graph.inputs[0].name
    calib = [{name: np.full((1, 3, 4, 4), float(i), np.float32)} for i in range(12)]
    split = split_samples(graph, PassContext(calibration=calib))
    assert split.held_out and split.learn_limit == 9
    assert [float(f[name].flat[0]) for f in split.judge] == [9.0, 10.0, 11.0]


def test_with_few_samples_the_step_is_judged_on_the_ones_it_learns_from() -> None:
    graph, _, _ = _calibrated(5)
    name = graph.inputs[0].name
    calib = [{name: np.full((1, 3, 4, 4), float(i), np.float32)} for i in range(5)]
    split = split_samples(graph, PassContext(calibration=calib))
    assert not split.held_out and split.learn_limit is None and len(split.judge) == 5
    unsized = split_samples(graph, PassContext(calibration=iter(calib)))  # a stream of unknown length
    assert not unsized.held_out


def test_a_reverted_bias_correction_zeroes_the_bias_it_added_to_a_layer_without_one() -> None:
    rng = np.random.default_rng(6)
    graph = conv_chain(rng, 3, [LayerSpec("conv", 6, "relu", True, False), LayerSpec("pw", 4, "none", False, False)])
    calib = [{graph.inputs[0].name: x[None]} for x in samples(graph, 8, rng, 0.0, 1.0)]
    ctx = PassContext(calibration=calib)
    graph = run_pipeline(graph, "calibrate", ctx)
    layers = [n for n in graph.nodes if is_weight_layer(n)]
    assert all(len(n.inputs) == 2 for n in layers)  # no biases to begin with
    weights = {n.name: np.asarray(n.inputs[1].data).copy() for n in layers}

    def add_bias_and_scramble() -> None:
        for node in layers:
            set_weight(graph, node, -2.0 * np.asarray(node.inputs[1].data))
            add_const_operand(graph, node, np.ones(node.result.type.static_shape[1], np.float32), f"{node.name}_bias")

    assert not keep_if_better(graph, layers, quant_settings(graph, ctx), calib, add_bias_and_scramble, lambda _: None, "test")
    for node in layers:
        np.testing.assert_array_equal(np.asarray(node.inputs[1].data), weights[node.name])
        np.testing.assert_array_equal(np.asarray(node.inputs[2].data), 0.0)
