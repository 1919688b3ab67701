"""Bit-exactness of the C model against the numpy integer reference.

For each sample: the float inputs are quantized by the generated C helpers and by the reference
(they must agree), the C model and the reference run on the same integers, and the integer outputs
must be byte-equal. On a difference the C model is re-run one step at a time and every step's
results are read back from the arena and compared with the reference's value of the same name:
the first node that differs is the one reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np

from qcc.backends.c.planner import nbytes
from qcc.backends.c.runtime import CModel
from qcc.backends.c.steps import CProgram
from qcc.backends.numpy_int.executor import run_integer
from qcc.errors import CheckFailed
from qcc.interp.interpreter import Observer
from qcc.ir.core import Value


@dataclass
class Mismatch:
    sample: int
    node: str
    op: str
    differing: int
    total: int
    max_abs: int

    def message(self) -> str:
        return (f"C output differs from the integer reference on sample {self.sample}: first differing node "
                f"'{self.node}' ({self.op}), {self.differing} of {self.total} elements differ (max |diff| {self.max_abs})")


def _read_value(program: CProgram, model: CModel, value: Value, arena: np.ndarray, ins: list[np.ndarray], outs: list[np.ndarray]) -> np.ndarray | None:
    loc = program.plan.location(value)
    dtype = value.type.dtype.numpy
    shape = tuple(value.type.static_shape)
    if loc.kind == "arena":
        return arena[loc.offset : loc.offset + nbytes(value)].view(dtype).reshape(shape).copy()
    if loc.kind == "output":
        return outs[loc.index].reshape(shape).copy()
    if loc.kind == "input":
        return ins[loc.index].reshape(shape).copy()
    return None


def first_difference(program: CProgram, model: CModel, feeds: Mapping[str, np.ndarray], sample: int = 0) -> Mismatch | None:
    """Step through the C model on one sample and return the first node whose result differs from
    the reference (None if every step agrees)."""
    reference = _reference_values(program, feeds, None)
    known = [reference.get(io.value.name) for io in program.inputs]
    ints = [i for i in known if i is not None]
    if len(ints) != len(known):
        ints = model.quantize_inputs([feeds[io.float_name] for io in program.inputs])
    for index, arena, outs in model.run_steps(ints):
        step = program.steps[index]
        for value in step.writes:
            expected = reference.get(value.name)
            if step.node is None:  # a synthetic output copy: compare with its source
                expected = reference.get(step.reads[0].name)
            if expected is None:
                continue
            got = _read_value(program, model, value, arena, ints, outs)
            if got is None or np.array_equal(got, expected):
                continue
            diff = np.abs(got.astype(np.int64) - expected.astype(np.int64))
            node = step.node.name if step.node is not None else step.label
            op = step.node.op if step.node is not None else "copy"
            return Mismatch(sample, node, op, int(np.count_nonzero(diff)), int(diff.size), int(diff.max()))
    return None


@dataclass
class VerifyResult:
    samples: int
    outputs_checked: int


ReferenceRun = Callable[[Mapping[str, np.ndarray], Observer], Any]
"""Runs the integer reference of the program's graph on one sample, handing every value to the
observer (a caller can compute more from the same run: ``qcc compile`` gets report.md's SQNR)."""


def verify_samples(program: CProgram, model: CModel, samples: Iterable[Mapping[str, np.ndarray]]) -> VerifyResult:
    """Check the C model against the reference on every sample; raises ``CheckFailed`` (exit 1)
    naming the first differing node."""
    built: Future[CModel] = Future()
    built.set_result(model)
    return verify_while_building(program, built, samples)


def verify_while_building(program: CProgram, model: Future[CModel], samples: Iterable[Mapping[str, np.ndarray]],
                          run_reference: ReferenceRun | None = None) -> VerifyResult:
    """``verify_samples`` while the C module may still be being built: each sample's reference
    runs (``run_reference``, default: the integer reference alone) and the sample is checked as
    soon as ``model`` is ready; only samples whose reference finished before it are held, so
    memory stays flat once the build is done. A build error is raised as soon as it happens."""
    names = boundary_names(program)
    run = run_reference or (lambda feeds, observer: run_integer(program.graph, feeds, observer=observer))
    pending: list[tuple[int, Mapping[str, np.ndarray], dict[str, np.ndarray]]] = []
    count = checked = 0

    def check_pending() -> None:
        nonlocal checked
        built = model.result()  # raises the build's error
        for index, feeds, captured in pending:
            checked += check_sample(program, built, feeds, captured, index)
        pending.clear()

    for index, feeds in enumerate(samples):
        captured: dict[str, np.ndarray] = {}
        run(feeds, _capture(names, captured))
        pending.append((index, feeds, captured))
        if model.done():
            check_pending()
        count += 1
    check_pending()
    return VerifyResult(count, checked)


def boundary_names(program: CProgram) -> set[str]:
    """The values the check reads from the reference: run()'s integer inputs and outputs."""
    return {io.value.name for io in (*program.inputs, *program.outputs)}


def check_sample(program: CProgram, model: CModel, feeds: Mapping[str, np.ndarray], captured: Mapping[str, np.ndarray], index: int) -> int:
    """Run the C model on one sample and compare it with the reference's ``captured`` boundary
    values (``boundary_names``); returns the number of outputs checked."""
    xs = [feeds[io.float_name] if io.scale is not None else captured[io.value.name] for io in program.inputs]
    ints = model.quantize_inputs(xs)
    for io, q in zip(program.inputs, ints):
        ref_q = captured.get(io.value.name)
        if ref_q is not None and not np.array_equal(ref_q, q):
            raise CheckFailed(f"the C quantize helper of input '{io.float_name}' differs from the reference on sample {index}")
    outs = model.run(ints)
    for io, got in zip(program.outputs, outs):
        expected = captured.get(io.value.name)
        if expected is None:
            expected = _output_reference(program, io, feeds)
        if not np.array_equal(expected, got):
            mismatch = first_difference(program, model, feeds, index)
            if mismatch is None:
                raise CheckFailed(f"C output '{io.float_name}' differs from the integer reference on sample {index}")
            raise CheckFailed(mismatch.message())
    return len(program.outputs)


def _output_reference(program: CProgram, io: Any, feeds: Mapping[str, np.ndarray]) -> np.ndarray:
    """The reference value of an output that run() receives through a copy step."""
    for step in program.steps:
        if io.value in step.writes and step.node is None:
            source = step.reads[0].name
            return _reference_values(program, feeds, {source})[source]
    raise CheckFailed(f"no reference value for output '{io.float_name}'")


def _reference_values(program: CProgram, feeds: Mapping[str, np.ndarray], names: set[str] | None) -> dict[str, np.ndarray]:
    """Run the integer reference on one sample and keep the values named in ``names`` (every value if None)."""
    kept: dict[str, np.ndarray] = {}
    run_integer(program.graph, feeds, observer=_capture(names, kept))
    return kept


def _capture(names: set[str] | None, into: dict[str, np.ndarray]) -> Observer:
    """An observer that stores the values named in ``names`` (every value if None) in ``into``."""

    def keep(value: Value, array: Any) -> None:
        if names is None or value.name in names:
            into[value.name] = np.asarray(array)

    return keep
