"""Saving and loading a graph as ``name.qir`` (text) plus ``name.npz`` (large constants)."""

from __future__ import annotations

import os
from pathlib import Path

from qcc.fileio import save_npz
from qcc.ir.core import Graph
from qcc.ir.parser import load, parse
from qcc.ir.printer import print_graph

__all__ = ["save", "load", "copy_graph"]


def copy_graph(graph: Graph) -> Graph:
    """An independent copy, through the textual form (which round-trips exactly): a pass that tries
    a change and may keep the graph as it was works on the copy."""
    text, blobs = print_graph(graph)
    return parse(text, blobs, filename=f"<copy of {graph.name}>")


def save(graph: Graph, path: str | os.PathLike[str]) -> list[Path]:
    """Write the text and, when there are large constants, the sidecar; returns the files written.
    Callers that need atomicity write into a temporary directory first (see qcc.fileio)."""
    path = Path(path)
    text, blobs = print_graph(graph)
    path.write_text(text)
    written = [path]
    if blobs:
        sidecar = path.with_suffix(".npz")
        save_npz(sidecar, blobs)
        written.append(sidecar)
    return written
