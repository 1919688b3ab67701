"""qcc analyze on the example model: the report's sections and sane values, the HTML page's numbers
equal to the JSON's, the page without matplotlib, and bad input as one line with nothing written."""

from __future__ import annotations

import html.parser
import json
from pathlib import Path

import pytest

from qcc.analysis import plots
from qcc.analysis.html import db, number
from qcc.analysis.report import analyze, write_report
from qcc.pipeline import PassContext
from tests.test_cli import assert_clean_error, qcc

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MODEL, CALIB, TEST = EXAMPLES / "digits_mbv2.onnx", EXAMPLES / "calib.npz", EXAMPLES / "test.npz"


class _Tables(html.parser.HTMLParser):
    """Every table of a page as rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            self.tables[-1][-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("analyze") / "report"
    proc = qcc("analyze", MODEL, "--calib", CALIB, "--data", TEST, "--samples", "4", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "output SQNR of the fake-quantized network" in proc.stdout
    return out


def test_report_has_every_section_with_sane_values(report_dir: Path) -> None:
    report = json.loads((report_dir / "report.json").read_text())
    assert report["samples"] == 4 and report["scheme"]["weights"] == 8
    assert 20 < report["output_sqnr_db"] < 60
    layers = report["layers"]
    assert layers[0]["op"] == "input" and layers[-1]["cumulative_sqnr_db"] == report["output_sqnr_db"]
    convs = [layer for layer in layers if layer["op"] == "conv"]
    assert convs and all(c["weights_sqnr_db"]["4"] < c["weights_sqnr_db"]["8"] < c["weights_sqnr_db"]["16"] for c in convs)
    kinds = {t["kind"] for t in report["tensors"]}
    assert kinds == {"activation", "weight"}
    for t in report["tensors"]:
        assert t["min"] <= t["max"] and t["std"] >= 0 and 0 <= t["clipped_fraction"] <= 1
        assert set(t["formats"]) >= {"INT8", "E2M5", "E3M4", "E4M3", "E5M2"}
        assert ("INT8-per-channel" in t["formats"]) == (t["kind"] == "weight")
        if t["kind"] == "weight":  # the default scheme is W8 per channel
            assert t["scheme_grid_snr_db"] == pytest.approx(t["formats"]["INT8-per-channel"]["snr_db"], abs=1e-3)  # float32 vs float64 grid values
    worst = report["worst"]
    assert {w["kind"] for w in worst} == {"activation", "weight"}
    assert all(sum(w["histogram"]["counts"]) > 0 and len(w["histogram"]["edges"]) == len(w["histogram"]["counts"]) + 1 for w in worst)


def test_plots_are_drawn_and_shown(report_dir: Path) -> None:
    pytest.importorskip("matplotlib")  # the [analyze] extra (also in [test])
    page = (report_dir / "index.html").read_text()
    for name in ("sensitivity.png", "histograms.png", "formats.png"):
        assert (report_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f'src="{name}"' in page


def test_html_page_shows_the_json_numbers(report_dir: Path) -> None:
    report = json.loads((report_dir / "report.json").read_text())
    page = (report_dir / "index.html").read_text()
    parser = _Tables()
    parser.feed(page)
    layer_rows, _, tensor_rows = (table[1:] for table in parser.tables)
    assert len(layer_rows) == len(report["layers"])
    for row, layer in zip(layer_rows, report["layers"]):
        assert row[0] == layer["node"]
        assert row[-1] == db(layer["cumulative_sqnr_db"])
        if layer["weights_sqnr_db"]:
            assert row[2:5] == [db(layer["weights_sqnr_db"][b]) for b in ("4", "8", "16")]
        if layer["activations_sqnr_db"]:
            assert row[5:7] == [db(layer["activations_sqnr_db"][b]) for b in ("8", "16")]
    for row, tensor in zip(tensor_rows, report["tensors"], strict=True):
        assert row[:6] == [tensor["name"], tensor["kind"], number(tensor["min"]), number(tensor["max"]), number(tensor["std"]), number(tensor["kurtosis"])]
        assert row[10] == db(tensor["scheme_grid_snr_db"])
        assert row[11] == db(tensor["formats"]["INT8"]["snr_db"]) and row[15] == db(tensor["formats"]["E4M3"]["snr_db"])
        assert row[-1] == tensor["best_format"]


def test_without_matplotlib_the_page_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> None:
        raise plots.PlotsUnavailable

    monkeypatch.setattr(plots, "_pyplot", missing)
    report = analyze(MODEL, PassContext(calibration=str(CALIB)), samples=2)
    names = write_report(report, tmp_path / "r")
    assert names == ["index.html", "report.json"]
    assert 'pip install "qcc[analyze]"' in (tmp_path / "r" / "index.html").read_text()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["missing.onnx", "--calib", str(CALIB)], "missing.onnx"),
        ([str(MODEL), "--calib", "nope.npz"], "nope.npz"),
        ([str(MODEL)], "--calib"),
        ([str(MODEL), "--calib", str(CALIB), "--samples", "0"], "--samples"),
        ([str(MODEL), "--calib", str(CALIB), "--target", "no-such-target"], "no-such-target"),
        ([str(MODEL), "--calib", str(CALIB), "--recipe", "nope"], "nope"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, args: list[str], fragment: str) -> None:
    out = tmp_path / "report"
    assert_clean_error(qcc("analyze", *args, "-o", out), fragment)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_refuses_to_replace_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    assert_clean_error(qcc("analyze", MODEL, "--calib", CALIB, "-o", tmp_path), "not a qcc analyze report")
    assert_clean_error(qcc("analyze", MODEL, "--calib", CALIB, "-o", tmp_path / "notes.txt"), "not a directory")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_target_with_two_weight_widths_gets_the_size_sqnr_curve(tmp_path: Path) -> None:
    out = tmp_path / "report"
    proc = qcc("analyze", MODEL, "--calib", CALIB, "--target", "dsp-w4a16", "--recipe", "fast{acts=8}", "--samples", "4", "-o", out)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    curve = report["mixed_precision_curve"]
    assert curve[0]["narrowed"] is None and curve[0]["weight_bytes_fraction"] == 1.0
    assert [p["weight_bytes_fraction"] for p in curve] == sorted((p["weight_bytes_fraction"] for p in curve), reverse=True)
    # the end of the curve is every layer at 4 bits: the W4A8 scheme's own fake-quant network
    assert curve[-1]["weight_bytes_fraction"] == 0.5
    assert curve[-1]["sqnr_db"] == pytest.approx(report["output_sqnr_db"], abs=1e-6)
    assert curve[0]["sqnr_db"] > curve[-1]["sqnr_db"] + 10
    parser = _Tables()
    parser.feed((out / "index.html").read_text())
    curve_rows = parser.tables[2][1:]
    assert [row[1:] for row in curve_rows] == [[number(p["weight_bytes_fraction"]), db(p["sqnr_db"])] for p in curve]
