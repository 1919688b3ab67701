"""C identifiers from IR names.

Generated C never contains an IR or ONNX name verbatim: every identifier, macro and comment that
mentions one goes through :func:`c_identifier`, which keeps only ``[A-Za-z0-9_]``, so a name
holding comment markers, quotes, backslashes, newlines or a C keyword still gives valid, inert C.
Identifiers built here always carry a prefix (``qcc_``, ``k12_``, ...), which rules out collisions
with keywords and with the reserved ``_X`` / ``__x`` forms.
"""

from __future__ import annotations

import re

_BAD = re.compile(r"[^A-Za-z0-9_]+")
MAX_LENGTH = 48


def c_identifier(name: str, max_length: int = MAX_LENGTH) -> str:
    """``name`` reduced to ``[a-zA-Z0-9_]`` (runs of anything else become one ``_``), without
    leading/trailing or doubled underscores, at most ``max_length`` characters; never empty.
    The result is meant to be used after a prefix."""
    text = _BAD.sub("_", name)
    text = re.sub(r"_+", "_", text).strip("_")
    return text[:max_length].rstrip("_") or "x"


def model_identifier(name: str) -> str:
    """The ``<model>`` of ``qcc_<model>_run``: lower case, starts with a letter."""
    ident = c_identifier(name, 32).lower()
    return ident if ident[0].isalpha() else f"m{ident}"


def comment_text(text: str) -> str:
    """Text safe inside a ``/* ... */`` comment: identifier characters, spaces and ``%.:,[]=-/`` only
    (no ``*``, so a ``/`` of an ONNX name like ``gpu_0/data_0`` can never open or close a comment)."""
    return re.sub(r"[^A-Za-z0-9_ %.:,\[\]=/-]", "_", text)
