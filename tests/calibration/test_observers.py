"""The calibration observers refuse values no range can be chosen for (found by the long fuzz run:
calibration data of 3e38 overflowed a conv to Inf, and the range [-inf, inf] gave a NaN zero point;
with a histogram, an infinite span would widen it for ever)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc import PassContext, import_model, run_pipeline
from qcc.calibration.observers import HistogramObserver
from qcc.errors import InputError
from qcc.targets import get_target


@pytest.mark.parametrize("histogram", [True, False])
@pytest.mark.parametrize(("bad", "word"), [(np.inf, "Inf"), (-np.inf, "Inf"), (np.nan, "NaN")])
def test_an_observer_refuses_values_that_are_not_finite(histogram: bool, bad: float, word: str) -> None:
    observer = HistogramObserver(histogram=histogram, what="activation %t")
    observer.update(np.array([0.5, -1.0], np.float32))
    with pytest.raises(InputError, match=f"activation %t reached {word} "):
        observer.update(np.array([0.0, bad, 2.0], np.float32))


def test_calibrate_names_the_activation_that_overflowed() -> None:
    """y = (x * 10) + 1: an input of 3e38 is finite, its product is not."""
    nodes = [helper.make_node("Mul", ["x", "ten"], ["big"]), helper.make_node("Add", ["big", "one"], ["y"])]
    consts = [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (("ten", 10.0), ("one", 1.0))]
    model = helper.make_model(
        helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], consts),
        opset_imports=[helper.make_opsetid("", 13)],
    )
    data = [{"x": np.array([[0.1, -0.2, 3e38, 0.0]], np.float32)}]
    for method in ("minmax", "mse"):
        ctx = PassContext(calibration=data, target=get_target("generic-int8"))
        with pytest.raises(InputError, match=r"calibration: activation %big reached Inf \(float32 overflow\)"):
            run_pipeline(import_model(model), f"quant-scheme{{method={method}}},calibrate", ctx)
