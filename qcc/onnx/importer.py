"""ONNX -> IR import.

Reads a model (checking what it can before trusting it), fixes symbolic input dims, turns
initializers into constants, orders nodes topologically (naming a cycle if there is one), and hands
each node to its converter from the table in ``qcc.onnx.converters``. Everything a model can get
wrong becomes a one-line ``ModelImportError`` naming the node and the op.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import networkx as nx
import numpy as np
import onnx
from google.protobuf.message import DecodeError

from qcc.errors import IRError, ModelImportError, UnsupportedOpError
from qcc.ir.core import Graph, Value
from qcc.ir.rewrite import remove_dead_code
from qcc.ir.types import TensorType
from qcc.onnx.constant_nodes import can_fold, fold_constant_node
from qcc.onnx.converters import CONVERTERS, NodeContext, dtype_from_onnx, node_label, read_tensor
from qcc.onnx.wellformed import check_text_fields

MIN_OPSET = 9
MAX_OPSET = onnx.defs.onnx_opset_version()

InputShapes = Mapping[str, Sequence[int]]


def load_model(path: str | os.PathLike[str]) -> onnx.ModelProto:
    """Load an ONNX file; external data is read only from inside the model's directory."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ModelImportError(f"cannot read '{path}': {e.strerror}") from None
    try:
        model = onnx.ModelProto.FromString(data)
    except (DecodeError, RuntimeWarning, ValueError) as e:
        raise ModelImportError(f"'{path}' is not a valid ONNX model (protobuf decode failed: {e})") from None
    if not model.HasField("graph") or not model.opset_import:
        raise ModelImportError(f"'{path}' is not a valid ONNX model (no graph or no opset)")
    check_text_fields(model, str(path))
    _load_external_data(model, path.parent)
    return model


def _load_external_data(model: onnx.ModelProto, base: Path) -> None:
    from onnx.external_data_helper import _get_all_tensors, uses_external_data

    base = base.resolve()
    for tensor in _get_all_tensors(model):
        if not uses_external_data(tensor):
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        target = (base / location).resolve()
        if base not in target.parents:
            raise ModelImportError(
                f"initializer '{tensor.name}': external data '{location}' lies outside the model's directory"
            )
        if not target.is_file():
            raise ModelImportError(f"initializer '{tensor.name}': external data file '{location}' not found")
    try:
        onnx.load_external_data_for_model(model, str(base))
    except (OSError, ValueError) as e:
        raise ModelImportError(f"cannot load external data: {e}") from None


def import_model(
    model: onnx.ModelProto | str | os.PathLike[str],
    *,
    input_shapes: InputShapes | None = None,
    bind: Mapping[str, np.ndarray] | None = None,
) -> Graph:
    """Import an ONNX model into a float IR graph.

    ``input_shapes`` fixes symbolic dims (a leading symbolic batch dim defaults to 1);
    ``bind`` turns graph inputs into constants with the given values.
    """
    if not isinstance(model, onnx.ModelProto):
        name = Path(model).stem
        model = load_model(model)
    else:
        name = model.graph.name or "model"
    return _Importer(model, name, dict(input_shapes or {}), dict(bind or {})).run()


def _captured_names(proto: onnx.NodeProto) -> set[str]:
    """The outer values a node's subgraphs (If branches, Loop bodies) read by name: its inputs as
    much as the ones it lists, for the order of the nodes."""
    names: set[str] = set()
    for attribute in proto.attribute:
        for sub in [attribute.g] if attribute.HasField("g") else list(attribute.graphs):
            defined = {t.name for t in sub.initializer} | {i.name for i in sub.input}
            for node in sub.node:
                names |= {n for n in [*node.input, *_captured_names(node)] if n and n not in defined}
                defined |= set(node.output)
    return names


Dim = int | str
"""A declared input dim: a fixed size, or how the model spells a dynamic one."""


def declared_dim(dim: onnx.TensorShapeProto.Dimension) -> Dim:
    """A fixed size, or the text of a dynamic dim. Exporters spell "dynamic" four ways: a
    ``dim_param`` name, no value at all, ``0`` (some converters) and ``-1`` (Paddle); all mean
    the size is chosen at run time, so all can be fixed with --input-shape."""
    if dim.HasField("dim_param") and dim.dim_param:
        return repr(dim.dim_param)
    if dim.HasField("dim_value") and dim.dim_value > 0:
        return int(dim.dim_value)
    return str(dim.dim_value) if dim.HasField("dim_value") else "?"


def dims_text(dims: Sequence[Dim]) -> str:
    return "[" + ", ".join(str(d) for d in dims) + "]"


class _Importer:
    def __init__(self, model: onnx.ModelProto, name: str, input_shapes: dict[str, Sequence[int]], bind: dict[str, np.ndarray]) -> None:
        self.model = model
        self.graph = Graph(model.graph.name or name)
        self.input_shapes = input_shapes
        self.bind = bind
        self.values: dict[str, Value] = {}
        self.unsupported: list[tuple[str, str, str]] = []  # (node label, op, reason): ops qcc cannot import
        self.missing: set[str] = set()  # values those nodes (and nodes fed by them) would have made
        self.symbols: dict[str, int] = {}  # named dynamic dims fixed by one input, for the others
        self.opset = self._default_opset()

    def _default_opset(self) -> int:
        versions = {op.domain: op.version for op in self.model.opset_import}
        version = versions.get("", versions.get("ai.onnx"))
        if version is None:
            raise ModelImportError("model imports no version of the default ONNX domain")
        if version < MIN_OPSET:
            raise UnsupportedOpError(
                f"opset {version} is older than the oldest qcc imports ({MIN_OPSET}); "
                "convert it with onnx.version_converter.convert_version first"
            )
        if version > MAX_OPSET:
            raise UnsupportedOpError(f"opset {version} is newer than the installed onnx knows ({MAX_OPSET})")
        return version

    def run(self) -> Graph:
        g = self.model.graph
        for tensor in g.initializer:
            array = read_tensor(tensor, f"initializer '{tensor.name}'")
            self.values[tensor.name] = self.graph.add_const(array, tensor.name)
        for name in self.input_shapes:
            if name not in {i.name for i in g.input}:
                raise ModelImportError(f"--input-shape names '{name}', which is not a model input")
        for name in self.bind:
            if name not in {i.name for i in g.input}:
                raise ModelImportError(f"cannot bind '{name}': not a model input")
        self.symbols = self._dim_symbols()
        for info in g.input:
            if info.name in self.values:
                continue  # opset-9 style: an initializer listed as an input is a constant
            if info.name in self.bind:
                self.values[info.name] = self.graph.add_const(np.asarray(self.bind[info.name]), info.name)
            else:
                self.values[info.name] = self.graph.add_input(info.name, self._input_type(info))
        for proto in self._topological_nodes():
            self._convert(proto)
        self._refuse_unsupported()
        self._set_outputs()
        remove_dead_code(self.graph)
        return self.graph

    def _input_type(self, info: onnx.ValueInfoProto) -> TensorType:
        where = f"input '{info.name}'"
        if not info.type.HasField("tensor_type"):
            raise UnsupportedOpError(f"{where}: only tensor inputs are supported")
        tt = info.type.tensor_type
        dtype = dtype_from_onnx(tt.elem_type, where)
        if not tt.HasField("shape"):
            raise ModelImportError(f"{where} has no shape; give one with --input-shape {info.name}=1x3x224x224")
        dims = [declared_dim(d) for d in tt.shape.dim]
        given = self.input_shapes.get(info.name)
        if given is not None:
            given = [int(d) for d in given]
            if len(given) != len(dims) or any(isinstance(d, int) and d != v for d, v in zip(dims, given)):
                raise ModelImportError(
                    f"--input-shape {info.name}={'x'.join(map(str, given))} does not fit its declared shape {dims_text(dims)}"
                )
            return TensorType(dtype, tuple(given))
        shape = []
        for axis, (d, proto) in enumerate(zip(dims, tt.shape.dim)):
            if not isinstance(d, int) and proto.dim_param in self.symbols:
                d = self.symbols[proto.dim_param]
            if not isinstance(d, int) and axis == 0:
                d = 1  # a dynamic batch runs one sample at a time
            if not isinstance(d, int):
                example = "x".join(str(x) if isinstance(x, int) else ("1" if i == 0 else "N") for i, x in enumerate(dims))
                raise ModelImportError(
                    f"{where} has a dynamic dim {d} at axis {axis} (declared shape {dims_text(dims)}); "
                    f"fix it with --input-shape {info.name}={example}"
                )
            shape.append(d)
        return TensorType(dtype, tuple(shape))

    def _dim_symbols(self) -> dict[str, int]:
        """The value of each named dynamic dim (a ``dim_param``) that one input fixes, for every
        other input that names the same dim: PyTorch names the batch of a recurrent state
        ``[2, 'batch', 128]`` like the batch of the data ``['batch', 'sequence']``. ``--input-shape``
        fixes a name first; a leading batch dim left dynamic fixes its name to 1."""
        symbols: dict[str, int] = {}
        inputs = [i for i in self.model.graph.input if i.name not in self.values and i.type.HasField("tensor_type")]
        for info in inputs:
            given = self.input_shapes.get(info.name)
            dims = info.type.tensor_type.shape.dim
            if given is not None and len(given) == len(dims):
                for dim, value in zip(dims, given):
                    if dim.dim_param:
                        symbols.setdefault(dim.dim_param, int(value))
        for info in inputs:
            dims = info.type.tensor_type.shape.dim
            if info.name not in self.input_shapes and dims and dims[0].dim_param:
                symbols.setdefault(dims[0].dim_param, 1)
        return symbols

    def _topological_nodes(self) -> list[onnx.NodeProto]:
        nodes = list(self.model.graph.node)
        producer = {out: i for i, n in enumerate(nodes) for out in n.output if out}
        dag = nx.DiGraph()
        dag.add_nodes_from(range(len(nodes)))
        for i, n in enumerate(nodes):
            for name in [*n.input, *sorted(_captured_names(n))]:
                if name in producer and producer[name] != i:
                    dag.add_edge(producer[name], i)
                elif name in producer:
                    raise ModelImportError(f"node '{node_label(n)}' ({n.op_type}) consumes its own output '{name}'")
        try:
            order = list(nx.lexicographical_topological_sort(dag))
        except nx.NetworkXUnfeasible:
            cycle = nx.find_cycle(dag)
            first = nodes[cycle[0][0]]
            path = " -> ".join(f"'{node_label(nodes[a])}'" for a, _ in cycle)
            raise ModelImportError(f"graph has a cycle through node '{node_label(first)}' ({first.op_type}): {path}") from None
        return [nodes[i] for i in order]

    def _convert(self, proto: onnx.NodeProto) -> None:
        ctx = NodeContext(proto, self.opset, self.graph, self.values)
        ctx.check_outputs()
        if any(name in self.missing for name in [*proto.input, *_captured_names(proto)]):
            # downstream of a refused op: its operands are unknown, so only its op can be judged
            if proto.domain in ("", "ai.onnx") and proto.op_type not in CONVERTERS:
                self.unsupported.append((ctx.name, proto.op_type, f"op '{proto.op_type}' is not supported by qcc"))
            elif proto.domain not in ("", "ai.onnx"):
                self.unsupported.append((ctx.name, proto.op_type, f"op domain '{proto.domain}' is not supported"))
            self.missing |= set(proto.output)
            return
        if proto.domain not in ("", "ai.onnx"):
            self.unsupported.append((ctx.name, proto.op_type, f"op domain '{proto.domain}' is not supported"))
            self.missing |= set(proto.output)
            return
        for name in proto.input:
            if name and name not in self.values:
                raise ModelImportError(f"{ctx.where}: input '{name}' is not defined by any node, initializer or graph input")
        if proto.op_type == "If" and self._inline_constant_if(proto):
            return
        fn = CONVERTERS.get(proto.op_type)
        if fn is None and can_fold(proto) and self._all_operands_constant(proto):
            self._fold_unconverted(proto, ctx)
            return
        if fn is None:
            self.unsupported.append((ctx.name, proto.op_type, f"op '{proto.op_type}' is not supported by qcc"))
            self.missing |= set(proto.output)
            return
        try:
            outputs = fn(ctx)
        except ModelImportError:
            raise
        except IRError as e:  # operand types that do not fit the op, found by shape inference
            raise ModelImportError(f"{ctx.where}: {e}") from None
        for name, value in zip(proto.output, outputs):
            if name:
                self.values[name] = value

    def _refuse_unsupported(self) -> None:
        """One error naming every node whose op qcc has no converter for, grouped by op."""
        if not self.unsupported:
            return
        if len(self.unsupported) == 1:
            name, op, reason = self.unsupported[0]
            raise UnsupportedOpError(f"node '{name}' ({op}): {reason}")
        by_reason: dict[str, list[str]] = {}
        for name, _op, reason in self.unsupported:
            by_reason.setdefault(reason, []).append(f"'{name}'")
        listed = "; ".join(f"{reason} ({len(names)}: {', '.join(names)})" for reason, names in by_reason.items())
        raise UnsupportedOpError(f"{len(self.unsupported)} nodes have ops qcc cannot import: {listed}")

    def _inline_constant_if(self, proto: onnx.NodeProto) -> bool:
        """An If whose condition is known at import (a shape test, once input shapes are fixed)
        becomes the nodes of the branch it takes; the branch reads the outer graph's values by
        name. False when the condition is computed at run time."""
        cond = self.values[proto.input[0]]
        if not cond.is_const or cond.data is None or np.asarray(cond.data).size != 1:
            return False
        taken = "then_branch" if bool(np.asarray(cond.data).reshape(-1)[0]) else "else_branch"
        branch = next((a.g for a in proto.attribute if a.name == taken), None)
        if branch is None:
            raise ModelImportError(f"node '{node_label(proto)}' (If): has no {taken}")
        for tensor in branch.initializer:
            self.values[tensor.name] = self.graph.add_const(read_tensor(tensor, f"initializer '{tensor.name}'"), tensor.name)
        for node in branch.node:
            self._convert(node)
        if len(branch.output) != len(proto.output):
            raise ModelImportError(f"node '{node_label(proto)}' (If): its {taken} has {len(branch.output)} outputs, the node {len(proto.output)}")
        for name, out in zip(proto.output, branch.output):
            if name:
                self.values[name] = self.values[out.name]
        return True

    def _all_operands_constant(self, proto: onnx.NodeProto) -> bool:
        return all(self.values[name].is_const for name in proto.input if name)

    def _fold_unconverted(self, proto: onnx.NodeProto, ctx: NodeContext) -> None:
        """An op without a converter whose operands are all known becomes its constant results."""
        operands = [self.values[name].data if name else None for name in proto.input]
        results = fold_constant_node(proto, operands, self.opset, ctx.where)
        for name, array in zip(proto.output, results):
            if name:
                self.values[name] = self.graph.add_const(array, name)

    def _set_outputs(self) -> None:
        outs: list[Value] = []
        for info in self.model.graph.output:
            if info.name not in self.values:
                raise ModelImportError(f"graph output '{info.name}' is not produced by any node")
            value = self.values[info.name]
            renamable = value.producer is not None and value.name != info.name and not any(o is value for o in outs)
            if renamable and not self.graph.has_name(info.name):
                self.graph.rename(value, info.name)
            outs.append(value)
        self.graph.outputs = outs


