"""Passes, the pass registry, pipeline text, and the PassManager that runs a pipeline.

A pass is a frozen dataclass whose fields are its options. Pipelines are text in the MLIR/xDSL
convention::

    fold-constants,fold-batchnorm,calibrate{method=mse},quantize{weights=4 acts=8}

Commas separate passes, spaces separate options, commas inside a value make a list, and
``repeat(a,b)`` runs a group until none of its passes changes the graph. Every problem with the text
(unknown pass or option, bad value) is reported before any pass runs.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import sys
import time
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, ClassVar, TextIO

from qcc.errors import PipelineError, VerifyError
from qcc.ir.core import Graph
from qcc.ir.printer import to_text
from qcc.ir.verify import verify

ENTRY_POINT_GROUP = "qcc.passes"
MAX_REPEAT = 32


@dataclass
class PassResult:
    """What a pass did: the (possibly new) graph and whether anything changed."""

    graph: Graph
    modified: bool


class Progress:
    """Progress reporting for long passes: a tqdm bar on a terminal, silent otherwise."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = enabled

    def bar(self, iterable: Iterable[Any], total: int | None = None, desc: str = "") -> Iterable[Any]:
        import sys

        from tqdm import tqdm

        enabled = self.enabled if self.enabled is not None else sys.stderr.isatty()
        return tqdm(iterable, total=total, desc=desc, disable=not enabled, leave=False)


@dataclass
class PassContext:
    """What passes may use besides the graph: calibration data, target, RNG seed, progress, log."""

    calibration: Any = None
    target: Any = None
    seed: int = 0
    progress: Progress = field(default_factory=Progress)
    log: Callable[[str], None] = lambda message: None
    # called once with the graph right before the first pass that reads data (qcc.preflight: every
    # node that cannot be lowered is reported before calibration or any PTQ pass spends time)
    preflight: Callable[[Graph], None] | None = None


@dataclass(frozen=True)
class Pass:
    """Base of all passes. Subclasses set ``name`` (kebab-case), declare options as dataclass fields
    with defaults, document what they do and why in the docstring, and implement ``run``."""

    name: ClassVar[str] = ""
    # ops that must be gone before this pass can run (e.g. quantize needs batch_norm folded)
    forbids_ops: ClassVar[frozenset[str]] = frozenset()
    # whether the pass streams calibration data (the pre-flight check runs before the first such pass)
    reads_data: ClassVar[bool] = False

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        raise NotImplementedError

    def check(self, graph: Graph, ctx: PassContext) -> None:
        """Refuse to run on a graph the pass cannot handle (raise PipelineError)."""
        present = sorted({n.op for n in graph.nodes} & self.forbids_ops)
        if present:
            raise PipelineError(f"pass '{self.name}' cannot run while the graph has '{present[0]}' nodes; run the pass that removes them first")

    def __str__(self) -> str:
        options = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value != f.default:
                options.append(f"{_kebab(f.name)}={_format_value(value)}")
        return self.name + ("{" + " ".join(options) + "}" if options else "")

    @classmethod
    def summary(cls) -> str:
        return " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())


PassClass = type[Pass]
_REGISTRY: dict[str, PassClass] = {}
_discovered = False


def register_pass(cls: PassClass) -> PassClass:
    """Class decorator adding a pass to the registry (also how custom passes register)."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no pass name")
    if not dataclasses.is_dataclass(cls) or not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]  # set by @dataclass, undeclared in typeshed
        raise ValueError(f"pass '{cls.name}' must be a frozen dataclass")
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls and existing.__qualname__ != cls.__qualname__:
        raise ValueError(f"pass '{cls.name}' is already registered by {existing.__module__}")
    _REGISTRY[cls.name] = cls
    return cls


def all_passes() -> dict[str, PassClass]:
    """Built-in passes (modules of ``qcc.passes``) and those of the ``qcc.passes`` entry points.
    Passes sit above this module, so both kinds are found the way plugins are: by name, at run time."""
    global _discovered
    if not _discovered:
        _discovered = True
        builtin = importlib.import_module("qcc.passes")
        for info in pkgutil.iter_modules(builtin.__path__):
            importlib.import_module(f"qcc.passes.{info.name}")
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                obj = ep.load()
            except Exception as e:  # noqa: BLE001 - a broken plugin must not break qcc
                raise PipelineError(f"entry point '{ep.name}' of group {ENTRY_POINT_GROUP} failed to load: {e}") from None
            if isinstance(obj, type) and issubclass(obj, Pass):
                register_pass(obj)
    return dict(sorted(_REGISTRY.items()))


def get_pass(name: str) -> PassClass:
    passes = all_passes()
    if name not in passes:
        raise PipelineError(f"unknown pass '{name}' (known: {', '.join(passes)})")
    return passes[name]


# ---- pipeline text -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Repeat:
    """A group of passes run again until none of them changes the graph."""

    passes: tuple[Pipeline, ...]

    def __str__(self) -> str:
        return "repeat(" + ",".join(str(p) for p in self.passes) + ")"


Pipeline = Pass | Repeat


def parse_pipeline(text: str) -> list[Pipeline]:
    """Parse pipeline text into pass instances; every error names the pass or option."""
    items = _split_top(text.strip(), text)
    return [_parse_item(item, text) for item in items]


def split_items(text: str) -> list[str]:
    """The top-level items of pipeline text (split on commas outside braces and parentheses)."""
    return _split_top(text.strip(), text)


def format_pipeline(passes: Sequence[Pipeline]) -> str:
    return ",".join(str(p) for p in passes)


def _split_top(text: str, whole: str) -> list[str]:
    """Split on commas that are outside braces and parentheses."""
    if not text:
        raise PipelineError("empty pipeline")
    items, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "{(":
            depth += 1
        elif ch in "})":
            depth -= 1
            if depth < 0:
                raise PipelineError(f"unbalanced '{ch}' at column {i + 1} of pipeline '{whole}'")
        elif ch == "," and depth == 0:
            items.append(text[start:i].strip())
            start = i + 1
    if depth != 0:
        raise PipelineError(f"unclosed brace or parenthesis in pipeline '{whole}'")
    items.append(text[start:].strip())
    for item in items:
        if not item:
            raise PipelineError(f"empty pass name in pipeline '{whole}'")
    return items


def _parse_item(item: str, whole: str) -> Pipeline:
    if item.startswith("repeat(") and item.endswith(")"):
        return Repeat(tuple(_parse_item(i, whole) for i in _split_top(item[len("repeat(") : -1], whole)))
    name, _, rest = item.partition("{")
    name = name.strip()
    if rest and not rest.endswith("}"):
        raise PipelineError(f"pass '{name}': options must end with '}}'")
    cls = get_pass(name)
    return cls(**_parse_options(cls, rest[:-1] if rest else ""))


def _parse_options(cls: PassClass, text: str) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    known = ", ".join(_kebab(f) for f in fields) or "none"
    out: dict[str, Any] = {}
    for token in text.split():
        key, eq, raw = token.partition("=")
        attr = key.replace("-", "_")
        if attr not in fields:
            raise PipelineError(f"pass '{cls.name}' has no option '{key}' (options: {known})")
        if not eq:
            if hints[attr] is bool:
                raw = "true"
            else:
                raise PipelineError(f"pass '{cls.name}': option '{key}' needs a value ({key}=...)")
        out[attr] = _convert(cls.name, key, hints[attr], raw)
    return out


def _convert(pass_name: str, key: str, hint: Any, raw: str) -> Any:
    where = f"pass '{pass_name}': option '{key}'"
    origin = typing.get_origin(hint)
    if origin is tuple:
        (elem, *_rest) = typing.get_args(hint)
        parts = [p for p in raw.split(",") if p] if raw else []
        return tuple(_convert(pass_name, key, elem, p) for p in parts)
    if typing.get_origin(hint) is typing.Literal:
        choices = typing.get_args(hint)
        if raw not in choices:
            raise PipelineError(f"{where}: '{raw}' is not one of {', '.join(choices)}")
        return raw
    try:
        if hint is bool:
            if raw.lower() in ("true", "1", "yes", "on"):
                return True
            if raw.lower() in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if hint is int:
            return int(raw)
        if hint is float:
            return float(raw)
        if hint is str:
            return raw
    except ValueError:
        raise PipelineError(f"{where}: '{raw}' is not a valid {hint.__name__}") from None
    raise PipelineError(f"{where}: unsupported option type {hint}")


def _kebab(name: str) -> str:
    return name.replace("_", "-")


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(_format_value(v) for v in value)
    return str(value)


def options_of(cls: PassClass) -> list[tuple[str, str, Any]]:
    """(option, type, default) of a pass, for `qcc passes`."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        type_name = getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
        out.append((_kebab(f.name), type_name, f.default))
    return out


# ---- running -----------------------------------------------------------------------------------


@dataclass
class PassTiming:
    name: str
    seconds: float
    modified: bool


@dataclass
class PassManager:
    """Runs a pipeline: checks each pass can run, runs it, verifies the result, times it and
    optionally prints the IR after it."""

    passes: Sequence[Pipeline]
    verify_each: bool = True
    print_ir_after: frozenset[str] | bool = False  # True = after every pass, or a set of pass names
    ir_stream: TextIO | None = None
    timings: list[PassTiming] = field(default_factory=list)

    @classmethod
    def from_text(cls, text: str, **kwargs: Any) -> PassManager:
        return cls(parse_pipeline(text), **kwargs)

    def run(self, graph: Graph, ctx: PassContext | None = None) -> Graph:
        ctx = ctx or PassContext()
        graph, _ = self._run_group(self.passes, graph, ctx)
        return graph

    def _run_group(self, passes: Sequence[Pipeline], graph: Graph, ctx: PassContext) -> tuple[Graph, bool]:
        any_modified = False
        for p in passes:
            if isinstance(p, Repeat):
                for _ in range(MAX_REPEAT):
                    graph, modified = self._run_group(p.passes, graph, ctx)
                    any_modified |= modified
                    if not modified:
                        break
                continue
            graph, modified = self._run_one(p, graph, ctx)
            any_modified |= modified
        return graph, any_modified

    def _run_one(self, p: Pass, graph: Graph, ctx: PassContext) -> tuple[Graph, bool]:
        p.check(graph, ctx)
        if p.reads_data and ctx.preflight is not None:
            check, ctx.preflight = ctx.preflight, None  # once per run
            check(graph)
        start = time.perf_counter()
        result = p.run(graph, ctx)
        self.timings.append(PassTiming(str(p), time.perf_counter() - start, result.modified))
        if self.verify_each:
            try:
                verify(result.graph)
            except VerifyError as e:
                raise VerifyError(f"after pass '{p.name}': {e}") from None
        if self.print_ir_after is True or (isinstance(self.print_ir_after, frozenset) and p.name in self.print_ir_after):
            stream = self.ir_stream or sys.stderr
            stream.write(f"// ----- IR after {p} -----\n{to_text(result.graph)}")
        return result.graph, result.modified

    def timing_report(self) -> str:
        width = max((len(t.name) for t in self.timings), default=4)
        lines = [f"{'pass':<{width}}  seconds  changed"]
        lines += [f"{t.name:<{width}}  {t.seconds:7.3f}  {'yes' if t.modified else 'no'}" for t in self.timings]
        return "\n".join(lines)


def run_pipeline(graph: Graph, text: str, ctx: PassContext | None = None, **kwargs: Any) -> Graph:
    """Parse and run pipeline text on a graph."""
    return PassManager.from_text(text, **kwargs).run(graph, ctx)
