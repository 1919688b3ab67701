"""The C backend: lowers a quantized graph to C (``model.c`` / ``model.h``) calling the kernel
library in ``csrc/``, plans its memory into one static arena, builds it with cffi, and checks it
byte for byte against the numpy integer reference (docs/design.md §7).

One module per job: ``cnames`` (safe C identifiers), ``carrays`` (C literals), ``steps`` (the
program model and what rules build with), ``lowering`` (the driver: IR node → kernel calls),
``rules_compute``, ``rules_movement``, ``rules_binary`` and ``rules_integer`` (one lowering rule per op), ``planner`` (liveness and arena offsets),
``emitter`` (the C files), ``build`` (cffi module and its cache), ``runtime`` (running a built
model from Python), ``verify`` (bit-exactness against the reference, first differing node),
``report`` and ``compile`` (``qcc compile``).
"""

from __future__ import annotations

from qcc.backends.c.lowering import CProgram, lower_graph

__all__ = ["CProgram", "lower_graph"]
