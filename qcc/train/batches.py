"""Labelled training data: an ``.npz`` with the model's input and a ``label`` array, served as
shuffled mini-batches whose order is a function of the seed alone."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qcc.data import load_feeds
from qcc.errors import InputError
from qcc.ir.core import Graph


@dataclass
class LabelledSet:
    inputs: np.ndarray  # [N, ...] stacked on the model's batch axis
    labels: np.ndarray  # [N] int64
    path: str

    @classmethod
    def load(cls, path: str | Path, graph: Graph) -> LabelledSet:
        feeds, labels = load_feeds(path, graph)
        (inp,) = graph.inputs
        if labels is None:
            raise InputError(f"'{path}' has no 'label' array: training and validation data need one integer class per sample")
        if inp.name not in feeds:
            raise InputError(f"'{path}' has no array '{inp.name}' (the model's input)")
        x = np.asarray(feeds[inp.name], dtype=np.float32)
        shape = tuple(inp.type.shape)
        if shape[0] != 1 or x.shape[1:] != shape[1:]:
            raise InputError(f"'{path}': '{inp.name}' is {list(x.shape)}; expected [N, {', '.join(map(str, shape[1:]))}] for a model input of {list(shape)}")
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(x) or not np.issubdtype(labels.dtype, np.integer):
            raise InputError(f"'{path}': 'label' must hold one integer per sample ({len(x)}), it is {labels.dtype}{list(labels.shape)}")
        return cls(x, labels.astype(np.int64), str(path))

    def __len__(self) -> int:
        return len(self.labels)

    def shuffled(self, batch_size: int, rng: np.random.Generator) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        order = rng.permutation(len(self))
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            yield self.inputs[index], self.labels[index]

    def in_order(self, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for start in range(0, len(self), batch_size):
            yield self.inputs[start : start + batch_size], self.labels[start : start + batch_size]
