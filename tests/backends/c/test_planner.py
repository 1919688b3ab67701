"""The static memory plan: views share memory, element-wise steps reuse a dying operand in place,
every buffer gets an offset no live neighbour overlaps, and the arena stays within 1.25x the lower
bound (the largest set of simultaneously live tensors) on the example and the light_* models."""

from __future__ import annotations

import pytest

from qcc.backends.c import lower_graph
from qcc.backends.c.planner import ALIGNMENT, MemoryPlan
from qcc.ir import DType, Graph, QuantParams, TensorType
from tests.backends.c.test_models import _light_calibrated
from tests.onnx.light_models import LIGHT_MODELS
from tests.quant.example_model import quantized

Q = QuantParams(0.05, 0, None, 8)


def _chain(ops: list[tuple[str, dict]]) -> Graph:
    g = Graph("chain")
    x = g.add_input("x", TensorType(DType.I8, (1, 8, 16, 16), Q))
    v = x
    for i, (op, attrs) in enumerate(ops):
        node = g.add_node(op, [v], attrs, names=f"v{i}")
        node.result.type = TensorType(node.result.type.dtype, node.result.type.shape, Q)
        v = node.result
    g.outputs = [v]
    return g


def _no_overlaps(plan: MemoryPlan) -> None:
    for i, a in enumerate(plan.buffers):
        assert a.offset % ALIGNMENT == 0
        for b in plan.buffers[i + 1 :]:
            if a.overlaps(b):
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset, (a, b)


def test_elementwise_chain_runs_in_place() -> None:
    clip = ("clip", {"min": -5.0, "max": 5.0})
    graph = _chain([clip, clip, clip, clip, ("transpose", {"perm": [0, 1, 3, 2]})])
    program = lower_graph(graph, "chain")
    plan = program.plan
    # v0 is written once; v1..v3 overwrite it; the transpose writes the output buffer
    assert plan.inplace_steps == [1, 2, 3]
    assert plan.arena_size == plan.lower_bound == 8 * 16 * 16
    _no_overlaps(plan)


def test_a_view_shares_memory_and_keeps_its_source_alive() -> None:
    graph = _chain([("clip", {"min": -5.0, "max": 5.0}), ("reshape", {"shape": [1, 2048]}), ("clip", {"min": -1.0, "max": 1.0}),
                    ("reshape", {"shape": [1, 8, 16, 16]}), ("transpose", {"perm": [0, 1, 3, 2]})])
    program = lower_graph(graph, "views")
    plan = program.plan
    steps = program.steps
    assert steps[1].alias and steps[3].alias
    assert plan.location(steps[0].writes[0]).offset == plan.location(steps[1].writes[0]).offset
    _no_overlaps(plan)


def test_a_value_read_later_is_not_overwritten_in_place() -> None:
    g = Graph("diamond")
    x = g.add_input("x", TensorType(DType.I8, (4, 64), Q))
    a = g.add_node("clip", [x], {"min": -3.0, "max": 3.0}, names="a").result
    b = g.add_node("clip", [a], {"min": -2.0, "max": 2.0}, names="b").result  # a is still needed below
    c = g.add_node("concat", [a, b], {"axis": 0}, names="c").result
    for v in (a, b, c):
        v.type = TensorType(v.type.dtype, v.type.shape, Q)
    g.outputs = [c]
    plan = lower_graph(g, "diamond").plan
    assert plan.inplace_steps == []
    assert plan.location(a).offset != plan.location(b).offset
    _no_overlaps(plan)


def _assert_tight(program) -> None:  # type: ignore[no-untyped-def]
    plan = program.plan
    _no_overlaps(plan)
    assert plan.lower_bound <= plan.arena_size <= 1.25 * plan.lower_bound, (plan.arena_size, plan.lower_bound)
    assert plan.lower_bound == max(plan.live_bytes)


def test_example_model_arena_is_within_a_quarter_of_the_lower_bound() -> None:
    _assert_tight(lower_graph(quantized(), "digits"))


def _light(name: str):  # type: ignore[no-untyped-def]
    from qcc import PassContext, run_pipeline
    from tests.quant.example_model import copy_graph

    graph, _ = _light_calibrated(name)
    return lower_graph(run_pipeline(copy_graph(graph), "quantize", PassContext()), name)


@pytest.mark.parametrize("name", ["light_squeezenet", "light_shufflenet"])
def test_light_model_arena_is_within_a_quarter_of_the_lower_bound(name: str) -> None:
    _assert_tight(_light(name))


@pytest.mark.slow
@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_every_light_model_arena_is_within_a_quarter_of_the_lower_bound(name: str) -> None:
    program = _light(name)
    _assert_tight(program)
    print(name, program.plan.arena_size, program.plan.lower_bound, f"{program.plan.arena_size / program.plan.lower_bound:.3f}")
