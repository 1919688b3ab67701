"""Name -> entry tables filled by decorators (float kernels, ONNX converters, lowering rules,
integer kernels, the integer op table): one mechanism, so every table refuses a duplicate the same
way."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F")


class Registry(dict[str, F]):
    """A dict of entries (functions, specs) by name with a registering decorator; a name
    registered twice is a bug."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def register(self, *names: str) -> Callable[[F], F]:
        def wrap(fn: F) -> F:
            for name in names:
                if name in self:
                    raise ValueError(f"{self.what} for '{name}' is already registered")
                self[name] = fn
            return fn

        return wrap
