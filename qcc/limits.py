"""Resource limits: what qcc refuses up front rather than crash on later (issue 12).

Stated once here and checked at the front door (model size, in ``qcc.model_io``) and by the compile
driver (element counts before lowering, the arena after planning, in ``qcc.compile``):

- a model file larger than ``max_model_bytes()`` (default 2 GiB, protobuf's own cap on one message;
  set ``QCC_MAX_MODEL_BYTES`` to lower or raise it) is not read at all;
- no tensor may hold more than ``MAX_TENSOR_ELEMENTS`` = 2^31 - 1 elements, because the C kernels
  index with ``int32_t``, nor have more than ``MAX_RANK`` = 64 dims (numpy's own limit); the importer
  checks both before it makes a constant from a shape the model states (ConstantOfShape, Range, folding);
- the planned arena must fit the target's RAM (``Target.ram_bytes``; None means no stated limit).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

from qcc.errors import InputError, QccError
from qcc.ir.core import Graph
from qcc.targets import Target

DEFAULT_MAX_MODEL_BYTES = 2**31
MAX_MODEL_BYTES_ENV = "QCC_MAX_MODEL_BYTES"
MAX_TENSOR_ELEMENTS = 2**31 - 1
MAX_RANK = 64
"""numpy's limit on array dims (``NPY_MAXDIMS``); a damaged shape input can ask for thousands."""


class LimitExceeded(QccError):
    """A model or tensor past a stated resource limit."""


def max_model_bytes() -> int:
    """The model file size limit: ``QCC_MAX_MODEL_BYTES`` if set, else 2 GiB."""
    text = os.environ.get(MAX_MODEL_BYTES_ENV, "")
    if not text:
        return DEFAULT_MAX_MODEL_BYTES
    try:
        value = int(text)
        if value <= 0:
            raise ValueError
    except ValueError:
        raise InputError(f"{MAX_MODEL_BYTES_ENV}='{text}': expected a positive number of bytes") from None
    return value


def check_model_file(path: Path) -> None:
    """Refuse a model file past the size limit before reading it."""
    try:
        size = path.stat().st_size
    except OSError:
        return  # the loader names a missing or unreadable file
    limit = max_model_bytes()
    if size > limit:
        raise LimitExceeded(f"'{path}' is {size:,} bytes, more than the model size limit of {limit:,} bytes (set {MAX_MODEL_BYTES_ENV} to change it)")


def check_shape(shape: Sequence[int], what: str) -> None:
    """Refuse a shape no qcc tensor may have, before any array of it is made (``what`` names it)."""
    if len(shape) > MAX_RANK:
        raise LimitExceeded(f"{what} has {len(shape):,} dims; tensors have at most {MAX_RANK}")
    size = math.prod(shape)
    if size > MAX_TENSOR_ELEMENTS:
        raise LimitExceeded(f"{what} {list(shape)} has {size:,} elements; "
                            f"the C kernels index tensors with int32 (at most {MAX_TENSOR_ELEMENTS:,} elements)")


def check_tensor_sizes(graph: Graph) -> None:
    """Refuse a graph with a tensor the C kernels' int32 indices cannot address."""
    for value in graph.values():
        if value.type.is_static:
            check_shape(value.type.static_shape, f"value '{value.name}'")


def check_arena(arena_bytes: int, target: Target) -> None:
    """Refuse an activation arena larger than the target's RAM."""
    if target.ram_bytes is not None and arena_bytes > target.ram_bytes:
        raise LimitExceeded(f"the activation arena needs {arena_bytes:,} bytes, more than target '{target.name}' has RAM ({target.ram_bytes:,} bytes)")
