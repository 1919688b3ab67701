"""The exception hierarchy: every error a user can cause is a QccError with a one-line message.

The CLI prints ``qcc: error: <message>`` and exits 2 for these; anything else is a bug in qcc.
"""

from __future__ import annotations


class QccError(Exception):
    """Base class of all user-facing errors. The message is one line naming what is wrong."""

    exit_code = 2

    def __str__(self) -> str:
        # One line, always: a message that echoes user text may hold any of the characters
        # str.splitlines breaks on (\r, \v, \f, \x1c-\x1e, \u2028, ...), not only \n.
        return " ".join(super().__str__().splitlines())


class IRError(QccError):
    """Malformed IR: bad types, attributes, SSA or graph structure."""


class ParseError(QccError):
    """IR text that does not parse; the message starts with ``file:line:col``."""


class VerifyError(IRError):
    """A graph that violates an invariant the verifier checks."""


class ModelImportError(QccError):
    """An ONNX model qcc cannot import (malformed, unsupported op or attribute, ...)."""


class UnsupportedOpError(ModelImportError):
    """An ONNX op (or op variant) qcc has no converter for."""


class PipelineError(QccError):
    """A bad pipeline string or a pass that cannot run on the given graph."""


class InputError(QccError):
    """Bad runtime input data: wrong name, shape or dtype."""


class CheckFailed(QccError):
    """A verification check (e.g. bit-exactness) that failed; exit 1, not 2."""

    exit_code = 1
