"""The --preprocess spec: every key parses to what docs/data.md says, and every mistake is one line
naming the key (no Pillow needed to check a spec)."""

from __future__ import annotations

import re

import pytest

from qcc.calibration.preprocess import Preprocess, Size, parse_preprocess
from qcc.errors import InputError


def test_the_imagenet_spec_parses_to_its_fields() -> None:
    spec = parse_preprocess("resize=256, crop=224x224,layout=NHWC,scale=1/255,mean=0.485,0.456,0.406,std=0.229,0.224,0.225,color=bgr,dtype=float32,input=img")
    assert spec == Preprocess(
        input="img", resize=Size(256), crop=Size(224, 224), color="BGR", layout="NHWC", scale=1 / 255,
        mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), dtype="float32",
    )
    assert spec.batched and not spec.channels_first()


def test_an_empty_spec_leaves_everything_to_the_model_input() -> None:
    assert parse_preprocess("scale=0.5") == Preprocess(scale=0.5)


@pytest.mark.parametrize(
    "text, message",
    [
        ("size=224x224", "unknown key 'size' (keys: input, resize"),
        ("scale=1/0", "scale=1/0 is not a number"),
        ("scale=nan", "scale=nan is not a number"),
        ("mean=0.5,abc", "mean=abc is not a number"),
        ("resize=224x", "resize=224x is not WIDTHxHEIGHT or N"),
        ("crop=0", "crop=0 is not WIDTHxHEIGHT or N"),
        ("resize=1x2x3", "resize=1x2x3 is not WIDTHxHEIGHT or N"),
        ("color=YUV", "color=YUV is not one of RGB|BGR|L"),
        ("layout=NCWH", "layout=NCWH is not one of NCHW|NHWC|CHW|HWC"),
        ("dtype=float8", "dtype=float8 is not one of float32|"),
        ("resample=area", "resample=area is not one of nearest|bilinear|bicubic|lanczos"),
        ("std=0.2,0,0.2", "std=0 would divide by zero"),
        ("color=RGB,mean=0.5,0.5", "mean has 2 value(s) but color=RGB has 3 channel(s)"),
        ("color=L,std=0.2,0.2,0.2", "std has 3 value(s) but color=L has 1 channel(s)"),
        ("mean=0.1,0.2,0.3,std=0.5", "mean has 3 values but std has 1"),
        ("scale=1,scale=2", "'scale' is given twice"),
        ("scale=1,0.5", "'0.5' is not key=value (after 'scale')"),
        ("224x224", "'224x224' is not key=value"),
    ],
)
def test_bad_specs_name_the_key(text: str, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        parse_preprocess(text)
