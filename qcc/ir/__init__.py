"""The typed graph IR: types, values/nodes/graphs, the op set, verifier, printer and parser."""

from qcc.ir.core import Graph, Node, Use, Value
from qcc.ir.ops import Attr, OpDef, Tensor, all_ops, define_op, get_op
from qcc.ir.parser import load, parse
from qcc.ir.printer import print_graph, to_text
from qcc.ir.serialize import save
from qcc.ir.types import DType, QuantParams, TensorType
from qcc.ir.verify import verify

__all__ = [
    "Attr", "DType", "Graph", "Node", "OpDef", "QuantParams", "Tensor", "TensorType", "Use", "Value",
    "all_ops", "define_op", "get_op", "load", "parse", "print_graph", "save", "to_text", "verify",
]
