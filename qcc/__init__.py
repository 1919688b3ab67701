"""qcc: a quantizing compiler from float ONNX models to bit-exact fixed-point C.

The public API: import a model, run passes on it, run it.

    import qcc
    graph = qcc.import_model("model.onnx")
    graph = qcc.run_pipeline(graph, "fold-batchnorm,fuse-activation,dce")
    outputs = qcc.run(graph, {"input": x})
"""

import qcc.ops  # noqa: F401, I001  (the op families fill the IR's op registry before anything parses or builds a graph)
from qcc.errors import QccError
from qcc.interp.interpreter import run, run_samples
from qcc.ir import Graph, parse, print_graph, to_text, verify
from qcc.model_io import load_graph
from qcc.onnx.importer import import_model
from qcc.pipeline import Pass, PassContext, PassManager, PassResult, parse_pipeline, register_pass, run_pipeline

__version__ = "0.1.0"

__all__ = [
    "Graph", "Pass", "PassContext", "PassManager", "PassResult", "QccError", "import_model", "load_graph",
    "parse", "parse_pipeline", "print_graph", "register_pass", "run", "run_pipeline", "run_samples",
    "to_text", "verify",
]
