"""``qcc train`` end to end on a tiny classifier: the loss falls, a seed fixes the result, the
output compiles to integers that agree with what training measured, and mistakes are one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qcc.cli import main
from qcc.model_io import load_graph
from qcc.pipeline import PassContext, PassManager, parse_pipeline
from qcc.targets import get_target
from qcc.train.batches import LabelledSet
from qcc.train.config import TrainConfig
from qcc.train.model import TrainableGraph
from qcc.train.trainer import Trainer, prepare, start_pipeline
from tests.train.tiny_classifier import write_files


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return write_files(tmp_path_factory.mktemp("tiny"))


def trained(files: tuple[Path, Path, Path], method: str, epochs: int = 4, seed: int = 0) -> tuple[TrainableGraph, list]:
    model, train, val = files
    ctx = PassContext(calibration=str(train), target=get_target("dsp-w4a16"))
    graph = prepare(load_graph(model), start_pipeline("fast", 4, 8), ctx)
    net = TrainableGraph(graph)
    config = TrainConfig(method=method, epochs=epochs, batch_size=16, lr=3e-2, step_lr=5e-2, seed=seed, freeze_start=0.02, freeze_end=0.005)
    reports = Trainer(net, config).fit(LabelledSet.load(train, graph), LabelledSet.load(val, graph))
    return net, reports


def test_a_tiny_model_learns(files: tuple[Path, Path, Path]) -> None:
    _, reports = trained(files, "lsq", epochs=12)
    assert reports[-1].loss < 0.8 * reports[0].loss
    assert reports[-1].val_top1 is not None and reports[-1].val_top1 > 0.4  # 4 classes: chance is 0.25


def test_the_same_seed_gives_the_same_weights(files: tuple[Path, Path, Path]) -> None:
    first, _ = trained(files, "dampen", epochs=2, seed=3)
    second, _ = trained(files, "dampen", epochs=2, seed=3)
    other, _ = trained(files, "dampen", epochs=2, seed=4)
    for a, b in zip(first.layers.values(), second.layers.values()):
        np.testing.assert_array_equal(a.weight, b.weight)
        np.testing.assert_array_equal(a.quantizer.scale, b.quantizer.scale)
    assert any(not np.array_equal(a.weight, c.weight) for a, c in zip(first.layers.values(), other.layers.values()))


def test_freezing_freezes_weights_during_training(files: tuple[Path, Path, Path]) -> None:
    net, reports = trained(files, "freeze", epochs=4)
    frozen = sum(int(layer.quantizer.frozen.sum()) for layer in net.layers.values())
    assert frozen > 0 and reports[-1].frozen == frozen
    assert [r.frozen for r in reports] == sorted(r.frozen for r in reports)  # frozen weights stay frozen


def test_cli_writes_a_graph_that_quantizes_to_the_trained_grids(files: tuple[Path, Path, Path], tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    model, train, val = files
    out, history = tmp_path / "trained.qir", tmp_path / "history.npz"
    code = main(["train", str(model), "--data", str(train), "--val", str(val), "--epochs", "2", "--lr", "0.03",
                 "--batch-size", "16", "--step-lr", "0.05", "--method", "freeze", "--history", str(history), "-o", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "epoch 2:" in printed and "integer reference top-1" in printed
    with np.load(history) as h:
        assert h["epoch"].tolist() == [1, 2] and h["oscillations"].shape == (2,)
    graph = load_graph(out)
    quantized = PassManager(parse_pipeline("quantize")).run(load_graph(out), PassContext())
    # every learned weight grid survives quantize: integers times scale give back the trained weights
    for node in graph.nodes:
        if node.op in ("conv", "gemm"):
            weight = np.asarray(node.inputs[1].const_array, np.float64)
            (qnode,) = [n for n in quantized.nodes if n.op.startswith("q.") and len(n.inputs) > 1 and n.inputs[1].name == node.inputs[1].name]
            ints = np.asarray(qnode.inputs[1].const_array, np.float64)
            scale = np.asarray(qnode.inputs[1].type.quant.scale, np.float64).reshape((-1,) + (1,) * (ints.ndim - 1))
            np.testing.assert_allclose(ints * scale, weight, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("widths", [["--acts", "4"], ["--weights", "3", "--acts", "3"]], ids=["w4a4", "w3a3"])
def test_low_widths_train_and_compile_to_c(files: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           widths: list[str]) -> None:
    """Activations below 8 bits (docs/arithmetic.md §3.19) end to end: train, then C byte-equal to the reference."""
    model, train, val = files
    out = tmp_path / "trained.qir"
    assert main(["train", str(model), "--data", str(train), "--val", str(val), "--epochs", "1", "--batch-size", "16", *widths, "-o", str(out)]) == 0
    assert "target npu-lowbit" in capsys.readouterr().out
    acts = widths[-1]
    assert f'acts={acts}' in out.read_text()
    assert main(["compile", str(out), "-p", "quantize", "--calib", str(train), "--verify", "4", "-o", str(tmp_path / "c")]) == 0
    assert "byte-equal to the integer reference" in capsys.readouterr().out
    assert f"i{acts}[" in (tmp_path / "c" / "model.qir").read_text()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--epochs", "0"], "--epochs 0 must be >= 1"),
        (["--weights", "1"], "no target runs 1-bit weights with 8-bit activations"),
        (["--acts", "4", "--target", "dsp-w4a16"], "target 'dsp-w4a16' supports 8/16-bit activations, not 4-bit"),
        (["--init", "nonsense"], "unknown recipe 'nonsense'"),
    ],
)
def test_cli_mistakes_are_one_line(files: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   extra: list[str], message: str) -> None:
    model, train, _ = files
    code = main(["train", str(model), "--data", str(train), "-o", str(tmp_path / "t.qir"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1 and err.startswith("qcc: error:")
    assert not (tmp_path / "t.qir").exists()


def test_cli_refuses_data_without_labels(files: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, train, _ = files
    unlabelled = tmp_path / "unlabelled.npz"
    with np.load(train) as data:
        np.savez(unlabelled, x=data["x"])
    code = main(["train", str(model), "--data", str(unlabelled), "-o", str(tmp_path / "t.qir")])
    err = capsys.readouterr().err
    assert code == 2 and "has no 'label' array" in err and err.count("\n") == 1


def test_qcc_compile_builds_bit_exact_c_from_the_trained_graph(files: tuple[Path, Path, Path], tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A calibrated float .qir is not an integer graph: compile runs its pipeline (quantize) on it."""
    model, train, _ = files
    trained_qir = tmp_path / "trained.qir"
    assert main(["train", str(model), "--data", str(train), "--epochs", "1", "-o", str(trained_qir)]) == 0
    out = tmp_path / "c"
    assert main(["compile", str(trained_qir), "-p", "quantize", "--calib", str(train), "-o", str(out)]) == 0
    assert "byte-equal to the integer reference on 4" in capsys.readouterr().out
