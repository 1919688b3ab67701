"""compress: spatial SVD and channel pruning per layer, ratios chosen greedily to meet a MAC budget."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from qcc.analysis.macs import graph_macs, node_macs
from qcc.calibration.source import calibration_set
from qcc.compression.candidates import Candidate, pruning_macs_saved
from qcc.compression.channel_path import find_channel_path
from qcc.compression.curve_plot import CurvePoint, write_curve_png
from qcc.compression.greedy import MacCount, Selection, fill, frontier, select
from qcc.compression.layer_lookup import find_conv
from qcc.compression.mac_budget import selection_macs
from qcc.compression.prune import consumer_bias, prune_conv_inputs
from qcc.compression.reconstruct import kept_count, layer_output, svd_layer
from qcc.compression.sampling import model_outputs, sample_patches
from qcc.compression.scoring import Scorer
from qcc.compression.spatial_svd import check_splittable, full_rank, split_conv, split_macs
from qcc.data import load_labels
from qcc.errors import PipelineError
from qcc.interp.interpreter import float_node
from qcc.ir.core import Graph, Node
from qcc.pipeline import Pass, PassContext, PassResult, register_pass

METHODS = ("svd", "prune")
DEFAULT_RATIOS = (0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875)


@register_pass
@dataclass(frozen=True)
class Compress(Pass):
    """Compress the float model to `macs` times its multiply-accumulates (0.5 = half) with the
    least measured loss, as AIMET's greedy compression-ratio selection does. Per conv, candidates
    are spatial SVD (`svd`, k x k convs with group=1: rank = ratio * full rank) and channel pruning
    with least-squares reconstruction (`prune`, convs whose input channels come from another conv
    through channel-wise nodes only: keep = ratio * C_in), for each ratio in `ratios`. Every
    candidate is scored alone (that layer compressed, the rest original) on the first `samples`
    calibration samples: top-1 when the calibration .npz holds labels, else output SQNR against the
    uncompressed model. The highest score threshold at which each layer's cheapest candidate above
    it fits the budget is taken, then the MACs left under the budget go back to the worst-scoring
    layers (a less compressed candidate, or none) while they fit. The layers are then compressed in
    graph order, each fitted by least squares (ridge towards its original weights) from its inputs
    in the graph as compressed so far to its outputs in the original model: pruning refits the kept
    weights, SVD the 1 x k factor (at least `positions` patches per sample). The log shows the
    per-layer table, the score/MAC curve and the final measured score; `plot=FILE` also measures
    the model along the curve and draws it into a PNG (needs matplotlib). No fine-tuning:
    reconstruction is the recovery. Run first, on the float model (before fold-batchnorm or after)."""

    name = "compress"
    reads_data = True
    forbids_ops = frozenset({"quantize", "dequantize"})
    macs: float = 0.5
    ratios: tuple[float, ...] = DEFAULT_RATIOS
    methods: tuple[str, ...] = METHODS
    samples: int = 64
    positions: int = 16
    plot: str = ""

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        self._check_options()
        if self.macs >= 1.0:
            ctx.log("compress: macs >= 1, nothing to do")
            return PassResult(graph, False)
        samples = list(calibration_set(graph, ctx, self.samples or None))
        source = ctx.calibration if isinstance(ctx.calibration, (str, os.PathLike)) else None
        scorer = Scorer(model_outputs(graph, samples), load_labels(source, graph))
        columns = self._candidates(graph, ctx)
        if not columns:
            raise PipelineError("compress: no conv can be compressed (none is a k x k group=1 conv or has a prunable input path)")
        self._score(graph, columns, samples, scorer, ctx)
        total = graph_macs(graph)
        macs_of = partial(selection_macs, graph)
        budget = int(self.macs * total)
        selection = fill(select(columns, macs_of, total, budget), columns, macs_of, budget)
        ctx.log(_table(columns, selection, scorer.unit))
        ctx.log(_curve(columns, macs_of, total, scorer.unit))
        measured = self._measured_curve(graph, columns, macs_of, total, samples, scorer, ctx) if self.plot else []
        targets = self._original_outputs(graph, selection.chosen, samples, ctx.seed)
        for candidate in selection.chosen:
            self._apply(graph, candidate, samples, targets[candidate.layer.name], ctx)
        final = scorer(model_outputs(graph, samples))
        after = graph_macs(graph)
        ctx.log(f"compress: MACs {total:,} -> {after:,} ({after / total:.1%}, selection predicted {selection.macs:,}); "
                f"{scorer.unit} on {len(samples)} calibration samples: {final:.2f}")
        if self.plot:
            write_curve_png(Path(self.plot), measured, CurvePoint(after / total, final), self.macs, scorer.unit)
            ctx.log(f"compress: accuracy/MAC curve written to {self.plot}")
        return PassResult(graph, bool(selection.chosen))

    def _measured_curve(self, graph: Graph, columns: list[list[Candidate]], macs_of: MacCount, total: int,
                        samples: Sequence[Mapping[str, np.ndarray]], scorer: Scorer, ctx: PassContext) -> list[CurvePoint]:
        """The model's score at the frontier selections nearest to 10%, 20%, ... 90% of the MACs,
        every chosen layer standing in at once (each as fitted alone: no sequential reconstruction)."""
        selections = frontier(columns, macs_of)
        wanted = {min(selections, key=lambda s: abs(s.macs / total - tenth / 10)).macs for tenth in range(1, 10)}
        points = []
        for selection in selections:
            if selection.macs in wanted:
                wanted.discard(selection.macs)  # the highest threshold reaching those MACs
                score = scorer(model_outputs(graph, samples, _standing_in(*selection.chosen)))
                points.append(CurvePoint(selection.macs / total, score))
        ctx.log("compress: measured curve (MACs left, " + scorer.unit + "): "
                + ", ".join(f"{p.macs_fraction:.1%} {p.score:.2f}" for p in sorted(points, key=lambda p: p.macs_fraction)))
        return points

    def _check_options(self) -> None:
        if self.macs <= 0.0:
            raise PipelineError(f"compress: macs={self.macs} must be > 0 (the fraction of the model's MACs to keep)")
        if not self.ratios or not all(0.0 < r < 1.0 for r in self.ratios):
            raise PipelineError(f"compress: ratios={','.join(map(str, self.ratios))} must be fractions in (0, 1)")
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise PipelineError(f"compress: unknown method '{unknown[0] if unknown else ''}' (methods: {', '.join(METHODS)})")
        if self.samples < 0 or self.positions < 1:
            raise PipelineError(f"compress: samples={self.samples} must be >= 0 and positions={self.positions} >= 1")

    def _candidates(self, graph: Graph, ctx: PassContext) -> list[list[Candidate]]:
        """One column of candidates per compressible conv, in graph order."""
        columns = []
        for node in graph.find_nodes("conv"):
            column = self._svd_candidates(node) + self._prune_candidates(graph, node, ctx)
            if column:
                columns.append(column)
        return columns

    def _svd_candidates(self, node: Node) -> list[Candidate]:
        if "svd" not in self.methods:
            return []
        try:
            check_splittable(node, self.name)
        except PipelineError:
            return []  # 1x1 and grouped convs: nothing to factor, not worth a log line each
        top, macs = full_rank(node), node_macs(node)
        ranks = sorted({max(1, round(r * top)) for r in self.ratios})
        saved = {rank: macs - split_macs(node, rank) for rank in ranks}
        return [Candidate(node, "svd", rank, top, saved[rank]) for rank in ranks if saved[rank] > 0]

    def _prune_candidates(self, graph: Graph, node: Node, ctx: PassContext) -> list[Candidate]:
        if "prune" not in self.methods or node.attr("group") != 1:
            return []
        try:
            path = find_channel_path(graph, node, self.name)
        except PipelineError as e:
            ctx.log(f"compress: no pruning: {str(e).removeprefix(f'{self.name}: ')}")
            return []
        channels = node.inputs[0].type.static_dim(1)
        kept = sorted({kept_count(channels, r) for r in self.ratios} - {channels})
        return [Candidate(node, "prune", k, channels, pruning_macs_saved(path, k), path) for k in kept]

    def _score(self, graph: Graph, columns: list[list[Candidate]], samples: Sequence[Mapping[str, np.ndarray]], scorer: Scorer, ctx: PassContext) -> None:
        """Score every candidate with only its layer compressed."""
        patches = sample_patches(graph, [column[0].layer for column in columns], samples, self.positions, ctx.seed)
        everything = [c for column in columns for c in column]
        for candidate in ctx.progress.bar(everything, total=len(everything), desc="compress: scoring candidates"):
            candidate.prepare(patches.get(id(candidate.layer)))
            candidate.score = scorer(model_outputs(graph, samples, _standing_in(candidate)))

    def _original_outputs(self, graph: Graph, chosen: Sequence[Candidate], samples: Sequence[Mapping[str, np.ndarray]],
                          seed: int) -> dict[str, np.ndarray]:
        """Per chosen layer (by name): its output in the uncompressed model at the sampled positions,
        the target of sequential reconstruction."""
        layers = [c.layer for c in chosen]
        patches = sample_patches(graph, layers, samples, self.positions, seed)
        return {n.name: layer_output(patches[id(n)], n.inputs[1].const_array, consumer_bias(n)) for n in layers}

    def _apply(self, graph: Graph, candidate: Candidate, samples: Sequence[Mapping[str, np.ndarray]], target: np.ndarray,
               ctx: PassContext) -> None:
        """Compress the chosen layer in the graph as it is now (earlier choices may have rebuilt it),
        fitting it on its inputs in the compressed graph to ``target``, its outputs in the original
        model at the same positions (sequential reconstruction: the layer also absorbs the error the
        layers compressed before it left in its input)."""
        node = find_conv(graph, candidate.layer.name, self.name)
        if candidate.method == "prune":
            prune_conv_inputs(graph, node, candidate.size, samples, self.positions, ctx.seed, self.name, target)
            return
        patches = sample_patches(graph, [node], samples, self.positions, ctx.seed)[id(node)]
        fitted = svd_layer(patches, node.inputs[1].const_array, consumer_bias(node), candidate.size, target)
        split_conv(graph, node, candidate.size, self.name, fitted)


def _standing_in(*candidates: Candidate) -> Callable[[Node, Sequence[np.ndarray]], Sequence[np.ndarray]]:
    """The float evaluator with the candidates' compressed layers in place of their layers (they
    compose: a pruned consumer ignores the channels its producer would no longer compute)."""
    by_layer = {id(c.layer): c for c in candidates}

    def evaluate_node(node: Node, operands: Sequence[np.ndarray]) -> Sequence[np.ndarray]:
        candidate = by_layer.get(id(node))
        return candidate.evaluate(operands) if candidate is not None else float_node(node, operands)

    return evaluate_node


def _table(columns: list[list[Candidate]], selection: Selection, unit: str) -> str:
    """Per layer: every candidate's score alone, and the choice."""
    chosen = {id(c.layer): c for c in selection.chosen}
    lines = [f"compress: per-layer candidates ({unit} with only that layer compressed; * = chosen at threshold {selection.threshold:.2f}, "
             "then filled up to the budget)"]
    for column in columns:
        layer = column[0].layer
        pick = chosen.get(id(layer))
        cells = ", ".join(f"{'*' if c is pick else ''}{c.label} {c.score:.2f}" for c in column)
        result = f"{pick.label}, -{pick.macs_saved:,} MACs" if pick else "kept"
        lines.append(f"  {layer.name} ({node_macs(layer):,} MACs): {result} | {cells}")
    return "\n".join(lines)


def _curve(columns: list[list[Candidate]], macs_of: MacCount, total: int, unit: str) -> str:
    """The greedy frontier: MACs left against the per-layer score threshold."""
    lines = [f"compress: MACs left vs threshold ({unit}, the worst single-layer score allowed)"]
    seen: set[int] = set()
    for selection in frontier(columns, macs_of):
        if selection.macs not in seen:
            seen.add(selection.macs)
            lines.append(f"  {selection.macs / total:6.1%}  {selection.threshold:8.2f}")
    return "\n".join(lines)
