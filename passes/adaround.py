"""adaround: learn the rounding of every weight, layer by layer (AdaRound, ICML 2020)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from qcc.arith.params import quantize_weight_ints, weight_params, weight_range
from qcc.calibration.source import calibration_set
from qcc.errors import PipelineError
from qcc.interp.interpreter import evaluate
from qcc.ir.core import Graph, Node
from qcc.pipeline import Pass, PassContext, PassResult, register_pass
from qcc.ptq.activations import DEFAULT_MEMORY_MB, MIB, ActivationStore
from qcc.ptq.guard import keep_if_better, split_samples
from qcc.ptq.layers import bias_vector, canonical, clamp, from_canonical, groups, is_weight_layer, linear_scale, set_weight
from qcc.ptq.paths import FLOAT, QUANTIZED, float_path, quantized_path
from qcc.ptq.rounding import AdaRoundConfig, Columns, learn_rounding
from qcc.ptq.settings import quant_settings, require_calibrated
from qcc.ptq.walk import LayerInputs, walk_layers
from qcc.quant.fakequant import FakeQuant, fake_quantize_weight, weight_axis

# Of the memory budget, the share a layer's working buffers may take at once: its float target and
# each chunk of im2col columns an optimizer step or the loss works on (the activations the walk
# holds take the rest). Never less than MIN_WORK_BYTES: activations can wait on disk, but columns
# are computed on, and a budget near 0 would leave the optimizer one sample per step.
WORK_SHARE = 4
MIN_WORK_BYTES = 64 * MIB


def float_target(node: Node, x_f: np.ndarray, store: ActivationStore, chunk_bytes: int) -> np.ndarray:
    """The layer's float output (after its clamp) on the float inputs ``x_f`` [N, ...], computed
    a chunk of samples at a time into the store (so it may live on disk)."""
    operands = [np.asarray(v.data) for v in node.inputs[1:]]
    n = x_f.shape[0]  # conv and gemm keep the batch axis
    out = store.allocate(("target", id(node)), (n, *node.result.type.static_shape[1:]), node.result.type.dtype.numpy)
    per_sample = max(out.nbytes // max(n, 1), 1)
    chunk = max(1, chunk_bytes // per_sample)
    for begin in range(0, n, chunk):
        out[begin : begin + chunk] = evaluate(node.op, [np.asarray(x_f[begin : begin + chunk])] + operands, node.attrs)[0]
    return out


def grid_weights(node: Node, ints: np.ndarray, scale: np.ndarray, like: np.ndarray) -> np.ndarray:
    """The float weight that holds exactly the grid points s * q, in the op's layout: what
    adaround leaves in the graph so that quantize's round-to-nearest finds q again."""
    return from_canonical(node, (ints * scale).reshape(ints.shape[:2] + (-1, 1)), like)


def canonical_scale(node: Node, weight: np.ndarray, bits: int, per_channel: bool) -> np.ndarray:
    """The quantize pass's weight scale(s) for this weight, shaped [G, O_g, 1] (or scalar [1,1,1])."""
    q = weight_params(weight, bits, weight_axis(node, per_channel))
    scale = np.asarray(q.scale, dtype=np.float64)
    if q.axis is None:
        return scale.reshape(1, 1, 1)
    view = canonical(node, weight)
    return scale.reshape(view.shape[0], view.shape[1], 1)


@register_pass
@dataclass(frozen=True)
class AdaRound(Pass):
    """AdaRound: learn for every weight whether it rounds down or up, so that each layer's output
    on calibration data is reconstructed best (Nagel et al., ICML 2020, arXiv:2004.10568).

    Rounding each weight to nearest is not optimal (Nagel, Amjad, van Baalen, Louizos, Blankevoort,
    "Up or Down? Adaptive Rounding for Post-Training Quantization"). The optimizer and its
    equations are in qcc/ptq/rounding.py: rectified sigmoid h(V), regularizer sum(1 - |2h(V) - 1|^beta) with beta
    annealed from `beta-start` to `beta-end` after a warm-up of `warmup` x `iters` steps without
    it, weight `reg` (the paper's lambda, applied to normalized terms: see there), Adam at learning rate `lr`, `batch` calibration samples
    per step, for `iters` steps per layer; on large feature maps a step sees a random subset of the
    output positions, at most `rows` (samples x positions) in all.

    Layers (conv incl. depthwise/grouped, gemm) are done in graph order. A layer's input comes from
    the network with everything upstream quantized (weights already rounded by this pass, activations
    rounded to their calibrated grids: the graph must be calibrated); its target output from the
    float network as it was before the pass. `samples` limits the calibration samples (0 = all).
    One walk over the graph (qcc.ptq.walk) runs every node once per sample on the quantized and on
    the float network; the activations later layers need are kept for all samples, up to
    `memory-mb` MiB in RAM and the rest in temporary files. A layer's float target and the im2col
    columns of one optimizer step or loss chunk take at most a quarter of that budget (64 MiB at
    least) at a time: a step takes fewer than `batch` samples when their columns would not fit. Deterministic for a `seed`
    (-1 = the context's seed, `qcc --seed`).

    The learned integers reach the quantize pass through the weights themselves: each weight is
    replaced by s * q, the grid point it rounds to, so quantize (reading the same quantization
    scheme) recomputes the same scale s and rounds every
    weight to exactly q; the pass checks that it does. Each q is floor(w/s) or floor(w/s) + 1, so
    within one grid step of rounding to nearest. conv_transpose and matmul are left to nearest
    rounding (named in the log). Run after calibrate, right before quantize (correct-bias would
    find no weight error left)."""

    name = "adaround"
    reads_data = True
    forbids_ops = frozenset({"quantize", "dequantize"})
    iters: int = 1000
    reg: float = 10.0
    beta_start: float = 20.0
    beta_end: float = 2.0
    warmup: float = 0.2
    batch: int = 32
    lr: float = 0.03
    rows: int = 16384
    samples: int = 0
    seed: int = -1
    memory_mb: int = DEFAULT_MEMORY_MB
    guard: bool = True

    def config(self) -> AdaRoundConfig:
        return AdaRoundConfig(self.iters, self.reg, self.beta_start, self.beta_end, self.warmup, self.batch, self.lr, self.rows)

    def _check_options(self) -> None:
        if self.iters < 1 or self.batch < 1 or self.rows < 1 or self.samples < 0 or self.memory_mb < 0:
            raise PipelineError(f"adaround: iters={self.iters}, batch={self.batch} and rows={self.rows} must be >= 1, "
                                f"samples={self.samples} and memory-mb={self.memory_mb} >= 0")
        if not (0.0 <= self.warmup < 1.0) or self.reg < 0 or self.lr <= 0 or self.beta_start <= 0 or self.beta_end <= 0:
            raise PipelineError("adaround: need 0 <= warmup < 1, reg >= 0, lr > 0, beta-start > 0, beta-end > 0")

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        self._check_options()
        require_calibrated(graph, "adaround")
        settings = quant_settings(graph, ctx)
        for node in graph.nodes:
            if node.op in ("conv_transpose", "matmul"):
                ctx.log(f"adaround: skip {node.name}: {node.op} keeps rounding to nearest")
        layers = [n for n in graph.nodes if is_weight_layer(n) and n.op in ("conv", "gemm")]
        if not layers:
            ctx.log("adaround: nothing to do: no conv or gemm with constant weights")
            return PassResult(graph, False)
        split = split_samples(graph, ctx, self.samples or None) if self.guard else None
        data = calibration_set(graph, ctx, split.learn_limit if split is not None else self.samples or None)
        seed = ctx.seed if self.seed < 0 else self.seed
        original = {id(n): np.asarray(n.inputs[1].data) for n in layers}
        fq = FakeQuant(graph, settings)
        order = {id(n): index for index, n in enumerate(layers)}
        budget = self.memory_mb * MIB
        start = time.perf_counter()

        def learn() -> None:
            with ActivationStore(budget) as store:

                def visit(node: Node, inputs: LayerInputs) -> None:
                    s = settings.for_node(node)
                    x_q = inputs.stacked(QUANTIZED, node.inputs[0]).astype(np.float32, copy=False)
                    x_f = inputs.stacked(FLOAT, node.inputs[0]).astype(np.float32, copy=False)
                    rng = np.random.default_rng([seed % 2**32, order[id(node)]])
                    new = self._layer(node, x_q, x_f, s.weight_bits, s.per_channel, rng, store, ctx)
                    set_weight(graph, node, new)
                    fq.weights[id(node)] = fake_quantize_weight(new, s.weight_bits, weight_axis(node, s.per_channel))

                walk_layers(graph, data, [quantized_path(fq), float_path(original)], layers, visit, store, ctx.progress, "adaround")
                ctx.log(f"adaround: {store.report()}")

        kept = True
        if split is not None:
            kept = keep_if_better(graph, layers, settings, split.judge, learn, ctx.log, "adaround", split.held_out)
        else:
            learn()
        ctx.log(f"adaround: {len(layers)} layers in {time.perf_counter() - start:.1f} s")
        return PassResult(graph, kept)

    def _layer(
        self, node: Node, x_q: np.ndarray, x_f: np.ndarray, bits: int, per_channel: bool, rng: np.random.Generator, store: ActivationStore, ctx: PassContext
    ) -> np.ndarray:
        weight = np.asarray(node.inputs[1].data)
        view = canonical(node, weight.astype(np.float64))
        g, og = view.shape[:2]
        flat = view.reshape(g, og, -1)
        scale = canonical_scale(node, weight, bits, per_channel)
        bias = bias_vector(node)
        if bias is None:
            raise PipelineError(f"adaround: node '{node.name}': its bias is not one value per channel")
        work_bytes = max(store.budget_bytes // WORK_SHARE, MIN_WORK_BYTES)
        target = float_target(node, x_f, store, work_bytes)
        target = target.reshape(target.shape[0], g, og, -1)
        kernel = weight.shape[2:] if node.op == "conv" else ()
        columns = Columns(node.op, dict(node.attrs), x_q, groups(node), kernel, linear_scale(node), work_bytes)  # gemm's alpha
        if columns.max_samples < min(self.batch, target.shape[0]):
            ctx.log(f"adaround: {node.name}: {columns.max_samples} samples per step, not {self.batch}: "
                    f"more would not fit in {work_bytes / MIB:.0f} MiB (memory-mb={self.memory_mb})")
        steps = ctx.progress.bar(range(self.iters), total=self.iters, desc=f"adaround {node.name}")
        result = learn_rounding(flat, scale, weight_range(bits), columns, target, bias.reshape(g, og, 1), clamp(node), self.config(), rng, steps)
        store.release(("target", id(node)))
        new = grid_weights(node, result.ints, scale, weight)
        ints, _, _ = quantize_weight_ints(new, bits, weight_axis(node, per_channel))
        expected = from_canonical(node, result.ints.reshape(g, og, -1, 1), np.zeros(weight.shape, np.int64))
        if not np.array_equal(ints.astype(np.int64), expected):
            raise PipelineError(f"adaround: node '{node.name}': quantizing the learned weights does not give the learned integers back")
        ctx.log(
            f"adaround: {node.name}: reconstruction loss {result.nearest_loss:.4g} (nearest) -> {result.learned_loss:.4g}, "
            f"{result.flipped} of {result.ints.size} weights rounded the other way"
        )
        return new
