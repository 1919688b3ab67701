"""prune-channels: what it removes, what it refuses, and that the least-squares reconstruction
recovers more of the layer's output than dropping the channels does."""

from __future__ import annotations

import numpy as np
import pytest

from qcc.analysis.macs import graph_macs
from qcc.compression.channel_path import find_channel_path
from qcc.errors import PipelineError
from qcc.interp.batching import run_samples_batched
from qcc.ir import parse, to_text
from qcc.pipeline import PassContext, run_pipeline
from tests.compression.models import inputs, three_conv_graph


def _samples(count: int, seed: int) -> list[dict[str, np.ndarray]]:
    return [{"x": x[None]} for x in inputs(count, seed)]


def _outputs(graph, data: np.ndarray) -> np.ndarray:  # noqa: ANN001
    return run_samples_batched(graph, {"x": data})["y"]


def test_keep_one_is_the_identity() -> None:
    graph = three_conv_graph()
    before = to_text(graph)
    after = run_pipeline(graph, "prune-channels{layer=c2 keep=1.0}", PassContext(calibration=_samples(8, 1)))
    assert to_text(after) == before


def test_reconstruction_beats_dropping_the_channels() -> None:
    held_out = inputs(32, 7)
    reference = _outputs(three_conv_graph(), held_out)
    pruned = run_pipeline(three_conv_graph(), "prune-channels{layer=c2 keep=0.5}", PassContext(calibration=_samples(64, 1)))
    assert pruned.value("w2").type.shape == (8, 4, 3, 3) and pruned.value("w1").type.shape == (4, 3, 3, 3)
    assert graph_macs(pruned) == graph_macs(three_conv_graph()) - (8 * 3 * 9 + 8 * 8 * 9) * 64 // 2

    # the same channels dropped without reconstruction: the consumer keeps its old weights for them
    naive = _drop(three_conv_graph(), sorted(_kept_channels(three_conv_graph(), pruned)))
    error = np.sum((_outputs(pruned, held_out) - reference) ** 2)
    naive_error = np.sum((_outputs(naive, held_out) - reference) ** 2)
    assert error < 0.8 * naive_error  # measured: 130 against 175 (random weights: little redundancy)


def _kept_channels(original, pruned) -> np.ndarray:  # noqa: ANN001
    """Which producer channels survived, found by matching the pruned producer's filters."""
    old, new = original.value("w1").const_array, pruned.value("w1").const_array
    return np.array([int(np.argmin(np.abs(old - f).sum(axis=(1, 2, 3)))) for f in new])


def _drop(graph, kept: list[int]):  # noqa: ANN001, ANN202
    from qcc.compression.prune import consumer_bias, prune_path

    consumer = next(n for n in graph.nodes if n.name == "c2")
    path = find_channel_path(graph, consumer, "test")
    index = np.array(kept)
    prune_path(graph, path, index, consumer.inputs[1].const_array[:, index], consumer_bias(consumer))
    return graph


def test_a_path_through_an_op_that_mixes_channels_is_refused() -> None:
    graph = parse(
        "graph @g(%x: f32[1,2,2,2]) -> (%y: f32[1,2,2,2]) {\n"
        "  %w1 = const f32[2,2,1,1] dense<[1.0, 2.0, 3.0, 4.0]>\n"
        "  %w2 = const f32[2,2,1,1] dense<[1.0, 0.0, 0.0, 1.0]>\n"
        "  %c = conv(%x, %w1) {strides=[1, 1], pads=[0, 0, 0, 0], dilations=[1, 1]} : f32[1,2,2,2]\n"
        "  %s = softmax(%c) {axis=1} : f32[1,2,2,2]\n"
        "  %y = conv(%s, %w2) {strides=[1, 1], pads=[0, 0, 0, 0], dilations=[1, 1]} : f32[1,2,2,2]\n"
        "  return %y\n}\n"
    )
    with pytest.raises(PipelineError, match=r"prune-channels: layer 'y': the path to its producer goes through 's' \(softmax\)"):
        run_pipeline(graph, "prune-channels{layer=y keep=0.5}", PassContext(calibration=[{"x": np.ones((1, 2, 2, 2), np.float32)}]))
