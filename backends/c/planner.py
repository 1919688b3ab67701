"""The static memory plan: every intermediate tensor gets an offset in one arena.

1. **Locations**: the integer inputs of ``run`` live in the caller's input buffers, its outputs in
   the output buffers, constants in ``const`` arrays; everything else in the arena.
2. **Views and in-place**: a reshape is a view of its operand (same memory). An element-wise step
   whose operand dies at that step and has the result's size writes over it (the kernels read
   element i before writing it). Both merge the values into one *buffer*.
3. **Lifetimes**: a buffer is live from the step that defines it to the last step that reads any
   of its values; a step's scratch area is live during that step only.
4. **Packing**: greedy first fit (each buffer at the lowest 16-byte aligned offset that does not
   overlap a placed buffer whose lifetime intersects) in three orders - by size (TFLite's "greedy
   by size" arena planner), by first use (a linear scan) and by lifetime - keeping the smallest
   arena. The lower bound reported next to the arena is the largest total size of buffers live
   at one step: no plan with these lifetimes can use less.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from qcc.ir.core import Value

if TYPE_CHECKING:
    from qcc.backends.c.steps import CProgram

ALIGNMENT = 16


@dataclass
class Location:
    """Where a value lives: ``arena`` (at ``offset``), ``input`` / ``output`` (buffer ``index``)
    or ``const`` (a static array)."""

    kind: str
    index: int = 0
    offset: int = 0


@dataclass
class Buffer:
    values: list[Value]
    size: int
    first: int
    last: int
    offset: int = -1
    scratch_of: int | None = None  # step index, for scratch areas

    def overlaps(self, other: Buffer) -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass
class MemoryPlan:
    arena_size: int
    lower_bound: int
    buffers: list[Buffer]
    locations: dict[int, Location] = field(default_factory=dict)
    scratch: dict[int, int] = field(default_factory=dict)  # step index -> arena offset
    live_bytes: list[int] = field(default_factory=list)    # per step: bytes of buffers live there
    inplace_steps: list[int] = field(default_factory=list)

    def location(self, value: Value) -> Location:
        return self.locations[id(value)]


def _align(n: int) -> int:
    return -(-n // ALIGNMENT) * ALIGNMENT


def nbytes(value: Value) -> int:
    shape = value.type.static_shape
    count = 1
    for d in shape:
        count *= int(d)
    return count * max(1, value.type.dtype.numpy.itemsize)


_ORDERS = (
    lambda b: (-b.size, b.first),                 # greedy by size (TFLite's default)
    lambda b: (b.first, -b.size),                 # in execution order (a linear scan)
    lambda b: (-(b.last - b.first), -b.size),     # longest lived first
)
"""Placement orders tried; each is greedy first-fit at the lowest offset, the best arena wins."""


def _place(buffers: list[Buffer]) -> dict[int, int]:
    """First fit: each buffer at the lowest aligned offset free of every placed buffer whose
    lifetime overlaps its own."""
    offsets: dict[int, int] = {}
    placed: list[Buffer] = []
    for buffer in buffers:
        conflicts = sorted((p for p in placed if p.overlaps(buffer)), key=lambda p: offsets[id(p)])
        offset = 0
        for p in conflicts:
            if offset + _align(buffer.size) <= offsets[id(p)]:
                break
            offset = max(offset, offsets[id(p)] + _align(p.size))
        offsets[id(buffer)] = offset
        placed.append(buffer)
    return offsets


def plan_memory(program: CProgram) -> MemoryPlan:
    steps = program.steps
    locations: dict[int, Location] = {}
    for k, io in enumerate(program.inputs):
        locations[id(io.value)] = Location("input", k)
    for k, io in enumerate(program.outputs):
        locations[id(io.value)] = Location("output", k)

    # last read of every value (graph outputs are read by the caller after the last step)
    last_read: dict[int, int] = {}
    for step in steps:
        for v in step.reads:
            last_read[id(v)] = step.index

    # group values into buffers: views and in-place results join their operand's buffer
    buffer_of: dict[int, Buffer] = {}
    buffers: list[Buffer] = []
    inplace_steps: list[int] = []
    for step in steps:
        for v in step.reads:
            if id(v) not in locations and id(v) not in buffer_of:
                if v.is_const:
                    locations[id(v)] = Location("const")
                else:  # an operand nobody defined: only a graph input that is not a run() input
                    raise ValueError(f"value '{v.name}' is read before it is defined")
        if step.alias:
            source, result = step.reads[0], step.writes[0]
            if id(source) in buffer_of:
                buffer = buffer_of[id(source)]
                buffer.values.append(result)
                buffer_of[id(result)] = buffer
            else:
                locations[id(result)] = locations[id(source)]
            continue
        for r in step.writes:
            if id(r) in locations:  # an output buffer
                continue
            merged = False
            if len(step.writes) == 1:
                for position in step.inplace:
                    operand = step.reads[position]
                    shared = buffer_of.get(id(operand))
                    if shared is None or shared.size != nbytes(r):
                        continue
                    # the operand's buffer must die here: no later reader of any of its values
                    if max(last_read.get(id(v), -1) for v in shared.values) != step.index:
                        continue
                    shared.values.append(r)
                    buffer_of[id(r)] = shared
                    inplace_steps.append(step.index)
                    merged = True
                    break
            if not merged:
                buffer = Buffer([r], nbytes(r), step.index, step.index)
                buffers.append(buffer)
                buffer_of[id(r)] = buffer
    for buffer in buffers:
        buffer.last = max([buffer.first] + [last_read.get(id(v), -1) for v in buffer.values])
    scratch_buffers = [Buffer([], s.scratch, s.index, s.index, scratch_of=s.index) for s in steps if s.scratch > 0]
    everything = buffers + scratch_buffers

    # greedy placement in a few orders; keep the smallest arena
    best: dict[int, int] | None = None
    arena = 0
    for order in _ORDERS:
        offsets = _place(sorted(everything, key=order))
        size = max([offsets[id(b)] + _align(b.size) for b in everything], default=0)
        if best is None or size < arena:
            best, arena = offsets, size
    for buffer in everything:
        buffer.offset = best[id(buffer)] if best is not None else 0

    live = [0] * len(steps)
    for buffer in everything:
        for t in range(buffer.first, buffer.last + 1):
            live[t] += buffer.size
    for buffer in buffers:
        for v in buffer.values:
            locations[id(v)] = Location("arena", 0, buffer.offset)
    plan = MemoryPlan(
        arena_size=max(arena, ALIGNMENT),
        lower_bound=max(live, default=0),
        buffers=everything,
        locations=locations,
        scratch={b.scratch_of: b.offset for b in scratch_buffers if b.scratch_of is not None},
        live_bytes=live,
        inplace_steps=inplace_steps,
    )
    return plan
