"""Pipeline text, the pass registry and the PassManager (docs/design.md §5)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass

import pytest

from qcc.errors import PipelineError, VerifyError
from qcc.ir import Graph, parse, to_text
from qcc.pipeline import Pass, PassContext, PassManager, PassResult, format_pipeline, parse_pipeline, register_pass

GRAPH = """\
graph @g(%x: f32[1,2]) -> (%y: f32[1,2]) {
  %y = relu(%x) : f32[1,2]
  return %y
}
"""


@register_pass
@dataclass(frozen=True)
class CountingPass(Pass):
    """A test pass with options of every kind; it changes nothing but records that it ran."""

    name = "test-counting"
    times: int = 1
    scale: float = 1.0
    verbose: bool = False
    label: str = "x"
    bits: tuple[int, ...] = (8,)

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        ctx.log(f"ran {self}")
        return PassResult(graph, False)


@pytest.mark.parametrize(
    "text",
    [
        "dce",
        "fold-constants,dce",
        "test-counting{times=3 scale=0.5 verbose=true label=abc bits=4,8}",
        "repeat(fold-constants,dce),test-counting{bits=4}",
    ],
)
def test_pipeline_text_round_trips(text: str) -> None:
    assert format_pipeline(parse_pipeline(text)) == text


def test_options_are_typed() -> None:
    (p,) = parse_pipeline("test-counting{times=3 scale=0.25 verbose bits=2,4}")
    assert p == CountingPass(times=3, scale=0.25, verbose=True, bits=(2, 4))


@pytest.mark.parametrize(
    "text, message",
    [
        ("nosuch", "unknown pass 'nosuch' (known: "),
        ("dce,nosuch", "unknown pass 'nosuch'"),
        ("test-counting{tims=3}", "pass 'test-counting' has no option 'tims' (options: times, scale, verbose, label, bits)"),
        ("test-counting{times=three}", "option 'times': 'three' is not a valid int"),
        ("test-counting{verbose=maybe}", "option 'verbose': 'maybe' is not a valid bool"),
        ("test-counting{bits=4,x}", "option 'bits': 'x' is not a valid int"),
        ("test-counting{times=3", "unclosed brace"),
        ("dce,,dce", "empty pass name"),
        ("", "empty pipeline"),
    ],
)
def test_bad_pipeline_text_is_rejected_before_anything_runs(text: str, message: str) -> None:
    with pytest.raises(PipelineError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_pipeline(text)


def test_manager_verifies_after_each_pass() -> None:
    @dataclass(frozen=True)
    class BreakUses(Pass):
        name = "test-break-uses"

        def run(self, graph: Graph, ctx: PassContext) -> PassResult:
            graph.nodes[0].inputs[0].uses.clear()  # corrupt the use lists behind the API's back
            return PassResult(graph, True)

    with pytest.raises(VerifyError, match="after pass 'test-break-uses': .*does not list this use"):
        PassManager([BreakUses()]).run(parse(GRAPH))


def test_manager_times_passes_and_prints_ir_after() -> None:
    stream = io.StringIO()
    pm = PassManager(parse_pipeline("test-counting,dce"), print_ir_after=frozenset({"dce"}), ir_stream=stream)
    pm.run(parse(GRAPH))
    assert [t.name for t in pm.timings] == ["test-counting", "dce"]
    assert stream.getvalue() == "// ----- IR after dce -----\n" + GRAPH
    assert "test-counting" in pm.timing_report()


def test_repeat_runs_a_group_until_nothing_changes() -> None:
    calls: list[int] = []

    @dataclass(frozen=True)
    class ChangesTwice(Pass):
        name = "test-changes-twice"

        def run(self, graph: Graph, ctx: PassContext) -> PassResult:
            calls.append(1)
            return PassResult(graph, len(calls) <= 2)

    from qcc.pipeline import Repeat

    PassManager([Repeat((ChangesTwice(),))]).run(parse(GRAPH))
    assert len(calls) == 3


def test_a_pass_refuses_a_graph_with_forbidden_ops() -> None:
    @dataclass(frozen=True)
    class NeedsNoRelu(Pass):
        name = "test-needs-no-relu"
        forbids_ops = frozenset({"relu"})

        def run(self, graph: Graph, ctx: PassContext) -> PassResult:
            return PassResult(graph, False)

    with pytest.raises(PipelineError, match="cannot run while the graph has 'relu' nodes"):
        PassManager([NeedsNoRelu()]).run(parse(GRAPH))


PLUGIN = '''
"""A custom pass living outside qcc: renames nothing, but appends a relu to the output."""
from dataclasses import dataclass
from qcc.pipeline import Pass, PassResult


@dataclass(frozen=True)
class AppendRelu(Pass):
    """Append a relu after the graph's first output."""
    name = "append-relu"
    times: int = 1

    def run(self, graph, ctx):
        for _ in range(self.times):
            out = graph.outputs[0]
            node = graph.add_node("relu", [out], names="extra")
            graph.outputs = [node.result] + graph.outputs[1:]
        return PassResult(graph, True)
'''


def test_custom_pass_registers_through_an_entry_point_and_runs_from_the_cli(tmp_path) -> None:
    """A pass in someone else's package, found through the `qcc.passes` entry-point group, is
    usable from pipeline text without touching qcc."""
    site = tmp_path / "site"
    (site / "my_passes").mkdir(parents=True)
    (site / "my_passes" / "__init__.py").write_text(PLUGIN)
    dist = site / "my_passes-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-passes\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[qcc.passes]\nappend-relu = my_passes:AppendRelu\n")
    (tmp_path / "in.qir").write_text(GRAPH)
    env = dict(os.environ, PYTHONPATH=str(site) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-m", "qcc.cli", "opt", str(tmp_path / "in.qir"), "-p", "append-relu{times=2}"],
        capture_output=True, text=True, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == textwrap.dedent("""\
        graph @g(%x: f32[1,2]) -> (%extra_0: f32[1,2]) {
          %y = relu(%x) : f32[1,2]
          %extra = relu(%y) : f32[1,2]
          %extra_0 = relu(%extra) : f32[1,2]
          return %extra_0
        }
        """)


def test_custom_pass_registered_with_the_decorator_runs_from_pipeline_text() -> None:
    from qcc.pipeline import run_pipeline

    assert to_text(run_pipeline(parse(GRAPH), "test-counting{times=2},dce")) == GRAPH
