"""The least-squares fits behind compression: the ridge keeps what the patches cannot determine, the
SVD refit of the 1 x k factor, and sequential reconstruction towards the original network's outputs."""

from __future__ import annotations

import numpy as np

from qcc.compression.prune import consumer_bias, prune_conv_inputs
from qcc.compression.reconstruct import layer_output, reconstruct, svd_layer
from qcc.compression.sampling import sample_patches
from qcc.compression.spatial_svd import svd_factors
from qcc.interp.batching import run_samples_batched
from tests.compression.models import inputs, three_conv_graph


def _svd_output(patches: np.ndarray, first: np.ndarray, second: np.ndarray, bias: np.ndarray) -> np.ndarray:
    middle = np.einsum("kci,ncij->nkj", first[..., 0], patches)[:, :, None, :]
    return layer_output(middle, second, bias)


def _low_rank_patches(count: int, rng: np.random.Generator, mixing: np.ndarray) -> np.ndarray:
    """Patches [count, 6, 3, 3] near an 8-dimensional subspace, as real activations are."""
    flat = rng.standard_normal((count, len(mixing))) @ mixing + 0.05 * rng.standard_normal((count, mixing.shape[1]))
    return flat.reshape(count, 6, 3, 3).astype(np.float32)


def test_keeping_every_channel_on_too_few_patches_returns_the_weights() -> None:
    """10 patches cannot determine 55 unknowns; the ridge towards the original weights keeps them,
    where plain minimum-norm least squares would replace them by another exact fit of the 10 rows."""
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((4, 6, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    patches = rng.standard_normal((10, 6, 3, 3)).astype(np.float32)
    new_weight, new_bias = reconstruct(patches, weight, bias, np.arange(6))
    np.testing.assert_allclose(new_weight, weight, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(new_bias, bias, rtol=1e-4, atol=1e-4)

    design = np.hstack([patches.reshape(10, -1), np.ones((10, 1))])
    min_norm = np.linalg.lstsq(design, layer_output(patches, weight, bias), rcond=None)[0]
    assert not np.allclose(min_norm[:-1].T.reshape(weight.shape), weight, atol=1e-2)


def test_svd_refit_is_exact_at_full_rank_and_better_below_it() -> None:
    rng = np.random.default_rng(1)
    weight = rng.standard_normal((5, 6, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    mixing = rng.standard_normal((8, 54))
    fit, held_out = _low_rank_patches(2000, rng, mixing), _low_rank_patches(500, rng, mixing)
    expected = layer_output(held_out, weight, bias)

    def error(arrays: tuple[np.ndarray, ...]) -> float:
        return float(np.mean((_svd_output(held_out, *arrays) - expected) ** 2))

    full = 15  # min(C_in * k_h, C_out * k_w)
    assert error(svd_layer(fit, weight, bias, full)) < 1e-6 * float(np.mean(expected**2))
    plain = error((*svd_factors(weight, 3), bias))
    refit = error(svd_layer(fit, weight, bias, 3))
    assert refit < 0.5 * plain  # measured: 83 against 199 (output power 380)


def _samples(count: int, seed: int) -> list[dict[str, np.ndarray]]:
    return [{"x": x[None]} for x in inputs(count, seed)]


def test_sequential_reconstruction_undoes_the_error_of_earlier_layers() -> None:
    """c2 and then y lose half their input channels. Fitting y to its outputs in the ORIGINAL model
    (on its inputs in the pruned one) leaves less held-out error than fitting it to its own outputs
    on those inputs, which takes c2's error as given."""
    calibration, held_out = _samples(64, 1), inputs(32, 7)
    reference = run_samples_batched(three_conv_graph(), {"x": held_out})["y"]
    original = three_conv_graph()
    y = next(n for n in original.nodes if n.name == "y")
    target = layer_output(sample_patches(original, [y], calibration, 16, 0)[id(y)], y.inputs[1].const_array, consumer_bias(y))

    errors = []
    for wanted in (None, target):
        graph = three_conv_graph()
        for name in ("c2", "y"):
            node = next(n for n in graph.nodes if n.name == name)
            prune_conv_inputs(graph, node, 4, calibration, 16, 0, "test", wanted if name == "y" else None)
        errors.append(float(np.sum((run_samples_batched(graph, {"x": held_out})["y"] - reference) ** 2)))
    own, sequential = errors
    assert sequential < 0.98 * own  # measured: 150.3 against 155.2 (random weights: little to recover)
