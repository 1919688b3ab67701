"""Calibration data, streamed one sample at a time so memory stays flat however many samples there
are (onnxruntime#10503 is what happens otherwise).

Sources: an ``.npz`` keyed by input name with samples stacked on the batch axis (read straight from
the zip member, sample by sample, never the whole array), a folder of ``.npy`` files (one sample or
a stack of samples each; single-input models), a folder of images or an ``ImageSource``
(``qcc.calibration.images``: decoded and preprocessed one image at a time), or any Python iterable of
feed dicts (or of bare arrays, for a single-input model).
"""

from __future__ import annotations

import contextlib
import math
import os
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from qcc.calibration.images import ImageFolder, ImageSource
from qcc.data import LABEL_KEYS
from qcc.errors import InputError, PipelineError
from qcc.fileio import ARCHIVE_ERRORS
from qcc.interp.interpreter import check_array
from qcc.ir.core import Graph

Feeds = dict[str, np.ndarray]
# what calibration= (PassContext, compile_model) and evaluation data may be
DataSource = str | os.PathLike[str] | ImageSource | Iterable[Mapping[str, Any] | np.ndarray]


@dataclass
class _NpyStream:
    """Reads one sample at a time from an open .npy byte stream (C order)."""

    file: IO[bytes]
    dtype: np.dtype
    shape: tuple[int, ...]

    @property
    def count(self) -> int:
        return self.shape[0] if self.shape else 1

    def read(self, sample_shape: tuple[int, ...]) -> np.ndarray:
        n = math.prod(sample_shape) * self.dtype.itemsize
        data = self.file.read(n)
        if len(data) != n:
            raise InputError("calibration data ended early (truncated file?)")
        return np.frombuffer(data, dtype=self.dtype).reshape(sample_shape).copy()


def _open_npy(file: IO[bytes], where: str) -> _NpyStream:
    try:
        version = np.lib.format.read_magic(file)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(file)
    except (ValueError, OSError, EOFError) as e:
        raise InputError(f"{where}: not a .npy array ({e})") from None
    if fortran and len(shape) > 1:
        raise InputError(f"{where}: Fortran-ordered arrays are not supported; save with np.ascontiguousarray")
    if dtype.hasobject:
        raise InputError(f"{where}: object arrays are not allowed")
    return _NpyStream(file, dtype, tuple(shape))


@contextlib.contextmanager
def _damaged_archive(path: Path) -> Iterator[None]:
    """Turn what a damaged .npz raises while its members are opened and read (a bad member header,
    a CRC mismatch, a broken deflate stream, a short member, a member zipfile cannot open) into one
    line naming the file."""
    try:
        yield
    except ARCHIVE_ERRORS as e:
        raise InputError(f"cannot read calibration data '{path}': {e}") from None


class CalibrationSet:
    """A re-iterable stream of single-sample feed dicts for a graph, validated as it goes."""

    def __init__(self, graph: Graph, source: DataSource, limit: int | None = None) -> None:
        self.graph = graph
        self.source = source
        self.limit = limit
        self._count: int | None = None

    def count(self) -> int | None:
        """Number of samples if knowable without reading them (files: from the array headers;
        sized iterables: their length); None for a plain iterator."""
        if self._count is None:
            if isinstance(self.source, (str, os.PathLike)):
                self._count = self._file_count(Path(self.source))
            elif isinstance(self.source, ImageSource):
                self._count = self.source.count()
                if self._count is None:
                    return None
            elif isinstance(self.source, Sized):
                self._count = len(self.source)
            else:
                return None
        return self._count if self.limit is None else min(self._count, self.limit)

    def __iter__(self) -> Iterator[Feeds]:
        n = 0
        for index, feeds in enumerate(self._raw()):
            if self.limit is not None and n >= self.limit:
                break
            yield self._check(index, feeds)
            n += 1
        if n == 0:
            raise InputError(f"calibration set '{self._describe()}' holds no samples")

    # ---- validation --------------------------------------------------------------------------

    def _check(self, index: int, feeds: Mapping[str, Any] | np.ndarray) -> Feeds:
        names = [v.name for v in self.graph.inputs]
        if isinstance(feeds, np.ndarray):
            if len(names) != 1:
                raise InputError(f"calibration sample {index} is a bare array but the model has inputs {', '.join(names)}: give dicts keyed by input name")
            feeds = {names[0]: feeds}
        out: Feeds = {}
        for key in feeds:
            if key not in names:
                raise InputError(f"calibration data has an array '{key}' that is not a model input (inputs: {', '.join(names)})")
        for value in self.graph.inputs:
            if value.name not in feeds:
                raise InputError(f"calibration data has no array for input '{value.name}'")
            arr = check_array(value, feeds[value.name], f"calibration sample {index}, input '{value.name}'")
            if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
                bad = "NaN" if np.isnan(arr).any() else "Inf"
                raise InputError(f"calibration sample {index}, input '{value.name}' contains {bad}")
            out[value.name] = arr
        return out

    def _describe(self) -> str:
        return str(self.source) if isinstance(self.source, (str, os.PathLike, ImageSource)) else "<iterable>"

    # ---- reading -----------------------------------------------------------------------------

    def _sample_shape(self, name: str) -> tuple[int, ...]:
        value = next(v for v in self.graph.inputs if v.name == name)
        return tuple(value.type.static_shape)

    def _stack_count(self, stream: _NpyStream, name: str, where: str) -> int:
        """How many samples a stored array holds: a stack on the batch axis of a batch-1 input,
        or a single sample of exactly the input's shape."""
        want = self._sample_shape(name)
        if stream.shape == want:
            return 1
        if want and want[0] == 1 and len(stream.shape) == len(want) and stream.shape[1:] == want[1:]:
            return stream.shape[0]
        raise InputError(f"{where}: array '{name}' has shape {list(stream.shape)}; input '{name}' needs {list(want)} or N samples stacked on axis 0")

    def _file_count(self, path: Path) -> int:
        """Count samples from the array headers alone."""
        if not path.is_dir():
            return self._npz_count(path)
        if not self._npy_files(path):
            return ImageFolder(path).count()
        name = self.graph.inputs[0].name
        total = 0
        for file in self._folder_files(path):
            with open(file, "rb") as f:
                total += self._stack_count(_open_npy(f, str(file)), name, str(file))
        return total

    def _npz_count(self, path: Path) -> int:
        with self._zip(path) as zf, _damaged_archive(path):
            counts = set()
            for name in self._npz_members(zf, path):
                with zf.open(name + ".npy") as f:
                    counts.add(self._stack_count(_open_npy(f, str(path)), name, str(path)))
        if len(counts) > 1:
            raise InputError(f"'{path}': inputs hold different numbers of samples {sorted(counts)}")
        return counts.pop()

    @staticmethod
    def _zip(path: Path) -> zipfile.ZipFile:
        if not path.is_file():
            raise InputError(f"calibration data '{path}' does not exist")
        try:
            return zipfile.ZipFile(path)
        except ARCHIVE_ERRORS as e:
            raise InputError(f"cannot read calibration data '{path}': {e}") from None

    def _npz_members(self, zf: zipfile.ZipFile, path: Path) -> list[str]:
        names = [m[:-4] for m in zf.namelist() if m.endswith(".npy")]
        names = [n for n in names if n not in LABEL_KEYS]
        inputs = [v.name for v in self.graph.inputs]
        for n in names:
            if n not in inputs:
                raise InputError(f"calibration data '{path}' has an array '{n}' that is not a model input (inputs: {', '.join(inputs)})")
        for n in inputs:
            if n not in names:
                raise InputError(f"calibration data '{path}' has no array for input '{n}'")
        return names

    def _raw(self) -> Iterator[Mapping[str, Any] | np.ndarray]:
        source = self.source
        if isinstance(source, ImageSource):
            yield from source.feeds(self.graph)
            return
        if not isinstance(source, (str, os.PathLike)):
            yield from source
            return
        path = Path(source)
        if path.is_dir() and not self._npy_files(path):  # a folder of images, default preprocessing
            yield from ImageFolder(path).feeds(self.graph)
        elif path.is_dir():
            yield from self._read_folder(path)
        elif path.suffix == ".npz" or path.is_file():
            yield from self._read_npz(path)
        else:
            raise InputError(f"calibration data '{path}' does not exist")

    def _read_npz(self, path: Path) -> Iterator[Feeds]:
        with self._zip(path) as zf, _damaged_archive(path):
            names = self._npz_members(zf, path)
            files = {n: zf.open(n + ".npy") for n in names}
            try:
                streams = {n: _open_npy(f, f"{path}:{n}") for n, f in files.items()}
                counts = {n: self._stack_count(s, n, str(path)) for n, s in streams.items()}
                if len(set(counts.values())) > 1:
                    raise InputError(f"'{path}': inputs hold different numbers of samples {sorted(set(counts.values()))}")
                total = next(iter(counts.values()))
                for _ in range(total):
                    yield {n: s.read(self._sample_shape(n)) for n, s in streams.items()}
            finally:
                for f in files.values():
                    f.close()

    @staticmethod
    def _npy_files(path: Path) -> list[Path]:
        """A folder's .npy files; a folder without any is read as images."""
        return sorted(path.glob("*.npy"))

    def _folder_files(self, path: Path) -> list[Path]:
        if len(self.graph.inputs) != 1:
            raise InputError(f"a folder of .npy files feeds single-input models only; '{path}' has {len(self.graph.inputs)} inputs: use an .npz")
        return self._npy_files(path)

    def _read_folder(self, path: Path) -> Iterator[Feeds]:
        name = self.graph.inputs[0].name
        for file in self._folder_files(path):
            with open(file, "rb") as f:
                stream = _open_npy(f, str(file))
                for _ in range(self._stack_count(stream, name, str(file))):
                    yield {name: stream.read(self._sample_shape(name))}


def calibration_set(graph: Graph, ctx: Any, limit: int | None = None) -> CalibrationSet:
    """A pass context's calibration data as a validated stream (every pass that needs data uses it)."""
    if ctx.calibration is None:
        raise PipelineError("this pipeline needs calibration data (qcc: --calib FILE.npz|FOLDER; API: PassContext(calibration=...))")
    source = ctx.calibration.source if isinstance(ctx.calibration, CalibrationSet) else ctx.calibration
    return CalibrationSet(graph, source, limit)
