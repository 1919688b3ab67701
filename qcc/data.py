"""Reading user data: model inputs from ``.npy`` / ``.npz`` files, checked against the graph.

An ``.npz`` is keyed by input name; a ``.npy`` feeds a single-input model. N samples stacked on the
batch axis of a batch-1 model are how users pass a data set. Keys named ``label``/``labels`` are
labels, not inputs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from qcc.errors import InputError
from qcc.fileio import NPZ_LOAD_ERRORS
from qcc.interp.interpreter import sample_count
from qcc.ir.core import Graph

LABEL_KEYS = ("label", "labels")


def load_arrays(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Arrays of an .npy (key '') or .npz file, with a one-line error for anything unreadable."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"input file '{path}' does not exist")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
        return {"": np.load(path, allow_pickle=False)}
    except NPZ_LOAD_ERRORS as e:
        raise InputError(f"cannot read '{path}': {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


def load_feeds(path: str | os.PathLike[str], graph: Graph) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """The model's input arrays from a file, plus its labels (flat, one per sample) if it holds them.

    The sample count is checked here, before anything runs, so that an empty data set or a label
    array of the wrong length is the user's error, not a failed reshape in the accuracy report."""
    arrays = load_arrays(path)
    names = [v.name for v in graph.inputs]
    if "" in arrays:
        if len(names) != 1:
            raise InputError(f"'{path}' holds one array but the model has {len(names)} inputs ({', '.join(names)}); use an .npz keyed by input name")
        feeds = {names[0]: arrays[""]}
        _sample_count(path, graph, feeds)
        return feeds, None
    labelled = next(((k, arrays.pop(k)) for k in LABEL_KEYS if k in arrays), None)
    for key in arrays:
        if key not in names:
            raise InputError(f"'{path}' has an array '{key}' that is not a model input (inputs: {', '.join(names)})")
    count = _sample_count(path, graph, arrays)
    return arrays, None if labelled is None else _checked_labels(path, *labelled, count)


def _sample_count(path: str | os.PathLike[str], graph: Graph, feeds: dict[str, np.ndarray]) -> int:
    count = sample_count(graph, feeds)
    if count == 0:
        raise InputError(f"'{path}' holds no samples")
    return count


def _checked_labels(path: str | os.PathLike[str], key: str, labels: np.ndarray, count: int) -> np.ndarray:
    """One class number per sample, flat; top-1 accuracy compares them with each output's argmax."""
    if labels.dtype.kind not in "biuf":
        raise InputError(f"'{path}': '{key}' holds {labels.dtype} values; labels are class numbers (integers)")
    if labels.size != count:
        plural = "" if count == 1 else "s"
        raise InputError(f"'{path}': '{key}' holds {labels.size} values for {count} sample{plural}; give one label per sample")
    return labels.reshape(-1)


def load_labels(path: str | os.PathLike[str] | None, graph: Graph) -> np.ndarray | None:
    """The labels an .npz data file holds (under a LABEL_KEYS name), flattened; None without. Read
    through ``load_feeds``, so a label count that does not match the samples is the same one-line
    error for every command."""
    if path is None or Path(path).suffix != ".npz":
        return None
    return load_feeds(path, graph)[1]
