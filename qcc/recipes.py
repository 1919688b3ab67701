"""Recipes: named, tested pipelines for post-training quantization (docs/recipes.md says when to
use which).

    fast      canonicalize decomposed ops, fold batch norms and activations, fuse element-wise
              groups into tables, calibrate, round weights to nearest
    dfq       + cross-layer equalization (kept only where it helps), high-bias absorption, the
              calibration method searched (calibrate's method=search), empirical bias correction
              (Nagel et al., ICCV 2019, arXiv:1906.04721), conv/gemm graph outputs as their int32
              accumulators (outputs=accumulator: no last requantization, no calibrated clip)
    adaround  dfq's equalization, absorption, search and accumulator outputs, then AdaRound
              instead of bias correction (Nagel et al., ICML 2020, arXiv:2004.10568)

dfq and adaround exist to get the best output quality, so they return conv/gemm outputs unrequantized
by default (measured: mtcnn-rnet 28.9 -> 31.0 dB, mtcnn-onet 32.1 -> 38.1 dB, docs/arithmetic.md
§3.20); ``dfq{outputs=int8}`` opts out (int8 outputs: a quarter of the output bytes).

A recipe is written like a pass in pipeline text, ``adaround{weights=4 per-channel=false}``. Its
options are the quantization scheme's (``weights``, ``acts``, ``per-channel``, ``method``,
``outputs``; 0 or absent = the target's default), which the recipe states once in a leading
``quant-scheme`` pass that every later pass reads, ``iters`` (AdaRound iterations per layer,
adaround only) and ``mixed`` (a mixed-precision budget, ``fast{mixed=size:1.1}``: the
``mixed-precision`` pass with activation widths searched runs right after calibration,
docs/mixed-precision.md).

``qcc quantize --recipe`` (and ``qcc compile``) use ``recipe_pipeline``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qcc.analysis.precision_search import Budget
from qcc.errors import PipelineError
from qcc.ir.types import CALIBRATION_METHODS, OUTPUT_MODES
from qcc.pipeline import format_pipeline, parse_pipeline, split_items

# equalize replaces the ReLU6 of MobileNet-style models by ReLU where it needs to, as DFQ did;
# docs/recipes.md and passes/equalize.py say what that changes. "$x" words are filled in per use.
_PREPARE = ("fold-constants", "canonicalize", "matmul-to-gemm", "fold-batchnorm")
_EQUALIZE = ("equalize{relu6-as-relu=true guard=true}", "absorb-high-bias")
# fuse-activation first: a ReLU/Clip folded into its producer's clamp costs nothing, while
# fuse-elementwise turns what is left of an element-wise group into one table. Equalization comes
# after them (it works on fused clamps too): its guard reads data, so the pre-flight check runs
# before it, and it must see the graph quantize will see (a sqrt inside a group is not a refusal).
_FOLD_ACTIVATIONS = ("fuse-activation", "fuse-elementwise", "dce")


@dataclass(frozen=True)
class Recipe:
    name: str
    summary: str
    steps: tuple[str, ...]  # one pass each; the word $adaround is filled in
    method: str = ""  # the calibration method when the user gives none ("": the target's default)
    outputs: str = "int8"  # how conv/gemm graph outputs leave when the user gives none (docs/arithmetic.md §3.20)


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            "fast",
            "fold batch norms and activations, calibrate, round weights to nearest (seconds)",
            (*_PREPARE, *_FOLD_ACTIVATIONS, "calibrate", "quantize"),
        ),
        Recipe(
            "dfq",
            "fast + cross-layer equalization, high-bias absorption, calibration search and empirical bias correction (seconds)",
            (*_PREPARE, *_FOLD_ACTIVATIONS, *_EQUALIZE, "calibrate", "correct-bias{mode=empirical}", "quantize"),
            method="search",
            outputs="accumulator",
        ),
        Recipe(
            "adaround",
            "dfq's equalization, absorption and calibration search, then AdaRound learns every weight's rounding (minutes)",
            (*_PREPARE, *_FOLD_ACTIVATIONS, *_EQUALIZE, "calibrate", "adaround{$adaround}", "quantize"),
            method="search",
            outputs="accumulator",
        ),
    )
}

DEFAULT_RECIPE = "fast"
_OPTIONS = {"weights": int, "acts": int, "per-channel": bool, "method": str, "outputs": str, "iters": int, "mixed": Budget}
_CHOICES = {"method": CALIBRATION_METHODS, "outputs": OUTPUT_MODES}


def parse_recipe(text: str) -> tuple[Recipe, dict[str, Any]]:
    """``name`` or ``name{key=value ...}`` -> the recipe and its options (one error per mistake)."""
    text = text.strip()
    name, brace, rest = text.partition("{")
    name = name.strip()
    recipe = RECIPES.get(name)
    if recipe is None:
        raise PipelineError(f"unknown recipe '{name}' (known: {', '.join(RECIPES)})")
    if brace and not rest.endswith("}"):
        raise PipelineError(f"recipe '{name}': options must end with '}}'")
    options: dict[str, Any] = {}
    for token in rest[:-1].split() if brace else []:
        key, eq, raw = token.partition("=")
        kind = _OPTIONS.get(key)
        if kind is None or not eq:
            raise PipelineError(f"recipe '{name}': bad option '{token}' (options: {', '.join(k + '=' for k in _OPTIONS)})")
        try:
            if kind is bool:
                options[key] = {"true": True, "false": False}[raw]
            elif kind is int:
                options[key] = int(raw)
            elif kind is Budget:
                options[key] = Budget.parse(raw).text
            else:
                if raw not in _CHOICES[key]:
                    raise KeyError
                options[key] = raw
        except (KeyError, ValueError):
            want = f"one of {', '.join(_CHOICES[key])}" if key in _CHOICES else "true or false" if kind is bool else "an integer"
            raise PipelineError(f"recipe '{name}': option '{key}': '{raw}' is not {want}") from None
    if "iters" in options and name != "adaround":
        raise PipelineError(f"recipe '{name}': option 'iters' is only for the adaround recipe")
    return recipe, options


def recipe_pipeline(text: str = DEFAULT_RECIPE) -> str:
    """Pipeline text of a recipe: its scheme options in a leading ``quant-scheme`` pass (left out when
    the recipe gives none, so the target's defaults apply), then its passes. Passes written before
    the recipe (``compress{macs=0.5},adaround``) run first, on the float model."""
    *before, last = split_items(text) if "," in text else [text]
    if before:
        return format_pipeline(parse_pipeline(",".join([*before, recipe_pipeline(last)])))
    recipe, options = parse_recipe(text)
    scheme = []
    if options.get("weights"):
        scheme.append(f"weights={options['weights']}")
    if options.get("acts"):
        scheme.append(f"acts={options['acts']}")
    if "per-channel" in options:
        scheme.append(f"per-channel={'true' if options['per-channel'] else 'false'}")
    method = options.get("method") or recipe.method
    if method:
        scheme.append(f"method={method}")
    outputs = options.get("outputs", recipe.outputs)
    if outputs != "int8":
        scheme.append(f"outputs={outputs}")
    steps = ([f"quant-scheme{{{' '.join(scheme)}}}"] if scheme else []) + list(recipe.steps)
    if options.get("mixed"):
        at = steps.index("calibrate") + 1  # after the ranges exist, before any pass that rounds weights
        steps.insert(at, f"mixed-precision{{budget={options['mixed']} activations=true}}")
    adaround = {"adaround": f"iters={options['iters']}" if "iters" in options else ""}
    text = ",".join(_fill(step, adaround) for step in steps)
    return format_pipeline(parse_pipeline(text))  # the canonical spelling (and every option checked)


def _fill(step: str, fill: dict[str, str]) -> str:
    """Replace the $words inside a pass's braces; drop braces left empty."""
    name, brace, rest = step.partition("{")
    if not brace:
        return step
    words = [fill[w[1:]] if w.startswith("$") else w for w in rest[:-1].split()]
    text = " ".join(w for w in words if w)
    return f"{name}{{{text}}}" if text else name
