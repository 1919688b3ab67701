"""Whole models through the C backend: the generated C's integer outputs equal the numpy integer
reference byte for byte, and the static arena stays within 1.25x the lower bound.

The example model runs by default at every width the targets allow (W8A8 per channel and per
tensor, W4A8 = the narrowest, W8A16 = the widest) on 32 held-out inputs each. The nine light_*
models of the onnx wheel run under ``-m slow`` at W8A8, W4A8 and W8A16 on 32 inputs each (their
ops that are defined on int8 only - softmax, LRN - stay int8 at W8A16 through per-node overrides,
which also exercises the int8 <-> int16 requantize kernels). One small light model runs by default.
"""

from __future__ import annotations

import functools

import numpy as np
import onnx
import pytest

from qcc import PassContext, run_pipeline
from qcc.backends.c import lower_graph
from qcc.backends.c.runtime import build_programs
from qcc.backends.c.verify import verify_samples
from qcc.targets import get_target
from qcc.errors import PipelineError
from qcc.ir.core import Graph
from qcc.onnx.importer import import_model
from tests.onnx.light_models import LIGHT_MODELS, light_model_data, light_model_path
from tests.quant.example_model import calibrated, copy_graph, labelled_samples

ARENA_FACTOR = 1.25
INT8_ONLY_OPS = ("softmax", "lrn", "layer_norm", "prelu")

# (target, quantization scheme options): W8A8, the narrowest and the widest widths the targets allow
WIDTHS = {
    "w8a8": ("generic-int8", ""),
    "w8a8-per-tensor": ("mcu-int8-per-tensor", ""),
    "w4a8": ("dsp-w4a16", "weights=4 acts=8"),
    "w8a16": ("dsp-w4a16", "weights=8 acts=16"),
}

# Known limits of the quantize pass (not of the C backend): (model, width) -> the reason it must be
# refused with; any other refusal fails. Empty since biases that would not fit int32 widen their
# weight scales instead (qcc.arith.params.bias_weight_scale_floor).
KNOWN_REFUSALS: dict[tuple[str, str], str] = {}


def _pipeline(options: str) -> str:
    return f"quant-scheme{{{options.strip()}}},quantize" if options.strip() else "quant-scheme,quantize"


def _check(graph: Graph, name: str, samples: list[dict[str, np.ndarray]]) -> None:
    program = lower_graph(graph, name)
    (model,) = build_programs([program])
    result = verify_samples(program, model, samples)
    assert result.samples == len(samples)
    plan = program.plan
    assert plan.lower_bound <= plan.arena_size <= ARENA_FACTOR * plan.lower_bound, (plan.arena_size, plan.lower_bound)


@pytest.mark.parametrize("width", list(WIDTHS))
def test_example_model_is_bit_exact(width: str) -> None:
    target, options = WIDTHS[width]
    graph = run_pipeline(copy_graph(calibrated()), _pipeline(options), PassContext(target=get_target(target)))
    x, _ = labelled_samples(32)
    _check(graph, f"digits_{width.replace('-', '_')}", [{"input": x[i : i + 1]} for i in range(32)])


def _overrides(graph: Graph) -> str:
    names = [n.name for n in graph.nodes if n.op in INT8_ONLY_OPS]
    return f" overrides={','.join(f'{n}:acts=8' for n in names)}" if names else ""


@functools.lru_cache(maxsize=None)
def _light_calibrated(name: str) -> tuple[Graph, tuple[np.ndarray, ...]]:
    model = onnx.load(light_model_path(name))
    graph = import_model(model)
    feeds, _ = light_model_data(model, name)
    (x,) = feeds.values()
    rng = np.random.default_rng(0)
    samples = tuple((x + rng.uniform(-0.1, 0.1, x.shape)).astype(np.float32) for _ in range(32))
    calibration = [{graph.inputs[0].name: s} for s in samples[:3]]
    graph = run_pipeline(graph, "fold-constants,fold-batchnorm,fuse-activation,dce,calibrate", PassContext(calibration=calibration))
    return graph, samples


def light_model_check(name: str, width: str, count: int) -> None:
    graph, samples = _light_calibrated(name)
    target, options = WIDTHS[width]
    if width == "w8a16":
        options += _overrides(graph)
    refusal = KNOWN_REFUSALS.get((name, width))
    if refusal is not None:
        with pytest.raises(PipelineError, match=refusal):
            run_pipeline(copy_graph(graph), _pipeline(options), PassContext(target=get_target(target)))
        return
    quantized = run_pipeline(copy_graph(graph), _pipeline(options), PassContext(target=get_target(target)))
    _check(quantized, f"{name}_{width}", [{graph.inputs[0].name: s} for s in samples[:count]])


def test_a_light_model_is_bit_exact() -> None:
    light_model_check("light_squeezenet", "w8a8", 4)


@pytest.mark.slow
@pytest.mark.parametrize("width", ["w8a8", "w4a8", "w8a16"])
@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_models_are_bit_exact(name: str, width: str) -> None:
    """Every light model at every width, including W8A16, where light_shufflenet,
    light_inception_v2 and light_resnet50 have biases that need wider weight scales to fit int32."""
    light_model_check(name, width, 32)


@pytest.mark.parametrize("width", ["w8a8", "w4a8", "w8a16"])
def test_mobile_blocks_model_is_bit_exact(width: str) -> None:
    """Hard-swish / hard-sigmoid / sigmoid tables (int8 and interpolated int16), squeeze-and-excite
    (mean, 1x1 convs, Mul of two activations), nearest resize, conv-transpose, concat, split,
    slice, transpose and a MatMul of two activations."""
    from tests.quant.mobile_blocks import mobile_blocks_model

    graph = import_model(mobile_blocks_model())
    rng = np.random.default_rng(3)
    samples = [{"x": rng.normal(0, 1, (1, 8, 8, 8)).astype(np.float32)} for _ in range(32)]
    graph = run_pipeline(graph, "fold-constants,fold-batchnorm,fuse-activation,dce,calibrate", PassContext(calibration=samples[:8]))
    target, options = WIDTHS[width]
    quantized = run_pipeline(graph, _pipeline(options), PassContext(target=get_target(target)))
    _check(quantized, f"mobile_{width}", samples)
