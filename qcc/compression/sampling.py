"""Running calibration samples through a float graph for compression: input patches of chosen
convolutions (for reconstruction) and the model outputs (for scoring), with as many samples per
interpreter call as the batching plan allows."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence

import numpy as np

from qcc.compression.reconstruct import conv_patches, positions_per_sample
from qcc.interp.batching import DEFAULT_BATCH_BYTES, batch_size, batches, plan_batching, run_batch, stack_samples, stacked_outputs
from qcc.interp.interpreter import NodeEvaluator, Observer, float_node
from qcc.ir.core import Graph, Node, Value

Feeds = Mapping[str, np.ndarray]


def _run_all(
    graph: Graph, samples: Sequence[Feeds], observer: Observer | None = None, evaluate_node: NodeEvaluator = float_node
) -> list[dict[str, np.ndarray]]:
    plan = plan_batching(graph)
    size = batch_size(graph, plan, DEFAULT_BATCH_BYTES)
    results = []
    for group in batches(samples, size):
        feeds = stack_samples(group) if len(group) > 1 else group[0]
        outputs = run_batch(graph, plan, feeds, len(group), observer=observer, evaluate_node=evaluate_node)
        results.append(stacked_outputs(graph, plan, outputs, len(group)))
    return results


def sample_patches(graph: Graph, convs: Sequence[Node], samples: Sequence[Feeds], positions: int, seed: int) -> dict[int, np.ndarray]:
    """Per conv (keyed by id): input patches at random output positions, at least ``positions`` per
    sample (more for layers with many weights, see positions_per_sample). The positions depend on
    the seed and the conv's name only, so the same layer sampled in the original and in the
    compressed graph gives patches at the same places (sequential reconstruction pairs them)."""
    wanted: dict[int, list[Node]] = {}
    for conv in convs:
        wanted.setdefault(id(conv.inputs[0]), []).append(conv)
    rngs = {id(conv): np.random.default_rng([seed, zlib.crc32(conv.name.encode())]) for conv in convs}
    counts = {id(conv): positions_per_sample(conv, len(samples), positions) for conv in convs}
    parts: dict[int, list[np.ndarray]] = {id(conv): [] for conv in convs}

    def observe(value: Value, array: np.ndarray) -> None:
        for conv in wanted.get(id(value), ()):
            parts[id(conv)].append(conv_patches(array, conv, counts[id(conv)], rngs[id(conv)]))

    _run_all(graph, samples, observer=observe)
    return {key: np.concatenate(chunks) for key, chunks in parts.items()}


def model_outputs(graph: Graph, samples: Sequence[Feeds], evaluate_node: NodeEvaluator = float_node) -> dict[str, np.ndarray]:
    """Every output of the graph over the samples, stacked on axis 0."""
    chunks = _run_all(graph, samples, evaluate_node=evaluate_node)
    return {name: np.concatenate([c[name] for c in chunks]) for name in chunks[0]}
