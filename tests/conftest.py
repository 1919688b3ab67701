"""Shared test helpers: the ONNX node conformance cases, collected once per session.

Collecting them takes seconds, and several test modules parametrize over them at collection time,
so they share this cached collector rather than each calling ``collect_cases`` again.
"""

from __future__ import annotations

import functools
from typing import Any, Iterable

from qcc.onnx.conformance import collect_cases


@functools.lru_cache(maxsize=1)
def conformance_cases() -> tuple[Any, ...]:
    """Every ONNX node conformance case that has a model (cached for the session)."""
    return tuple(collect_cases())


def single_op_cases(op_types: Iterable[str]) -> list[Any]:
    """The cases whose model is one node of one of ``op_types`` (what ``--op`` runs)."""
    wanted = set(op_types)
    return [c for c in conformance_cases() if len(c.model.graph.node) == 1 and c.model.graph.node[0].op_type in wanted]
