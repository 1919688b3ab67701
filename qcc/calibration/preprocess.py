"""The ``--preprocess`` spec: how a decoded image becomes a model input array.

Parsed strictly (an unknown key, a bad number or a mean/std of the wrong length is a one-line error
naming the key) so a typo cannot silently calibrate on differently scaled data. The grammar and the
order of the steps are in docs/data.md; this module holds no Pillow code, so a spec can be checked
without Pillow installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from qcc.errors import InputError

COLORS = {"RGB": 3, "BGR": 3, "L": 1}
LAYOUTS = ("NCHW", "NHWC", "CHW", "HWC")
RESAMPLERS = ("nearest", "bilinear", "bicubic", "lanczos")
DTYPES = ("float32", "float16", "float64", "uint8", "int8", "uint16", "int16", "int32")
KEYS = ("input", "resize", "crop", "resample", "color", "layout", "scale", "mean", "std", "dtype")
LIST_KEYS = ("mean", "std")


@dataclass(frozen=True)
class Size:
    """``WxH`` (width first, as image tools write it) or a single ``N``.

    As ``resize=N`` it scales the shorter side to N keeping the aspect ratio; as ``crop=N`` it is an
    N x N centre crop."""

    width: int
    height: int | None = None  # None: the single-number form

    def __str__(self) -> str:
        return f"{self.width}" if self.height is None else f"{self.width}x{self.height}"


@dataclass(frozen=True)
class Preprocess:
    """A parsed spec; unset fields are decided by the model input the images feed (see ``bind``)."""

    input: str | None = None
    resize: Size | None = None
    crop: Size | None = None
    resample: str = "bilinear"
    color: str | None = None
    layout: str = "NCHW"
    scale: float = 1.0
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    dtype: str | None = None

    @property
    def batched(self) -> bool:
        return self.layout.startswith("N")

    def channels_first(self) -> bool:
        return self.layout.lstrip("N").startswith("C")


def parse_preprocess(text: str) -> Preprocess:
    """``key=value,...``; the values of ``mean``/``std`` are themselves comma-separated."""
    fields: dict[str, list[str]] = {}
    last: str | None = None
    for token in (t.strip() for t in text.split(",")):
        if not token:  # an empty spec, or a stray comma
            continue
        if "=" in token:
            key, _, value = token.partition("=")
            key = key.strip()
            if key not in KEYS:
                raise InputError(f"--preprocess: unknown key '{key}' (keys: {', '.join(KEYS)})")
            if key in fields:
                raise InputError(f"--preprocess: '{key}' is given twice")
            fields[key] = [value.strip()]
            last = key
        elif last in LIST_KEYS:
            fields[last].append(token)
        else:
            raise InputError(f"--preprocess: '{token}' is not key=value (after '{last}')" if last else f"--preprocess: '{token}' is not key=value")
    return _build(fields)


def _build(fields: dict[str, list[str]]) -> Preprocess:
    one = {k: v[0] for k, v in fields.items() if k not in LIST_KEYS}
    color = _choice(one, "color", tuple(COLORS), upper=True)
    layout = _choice(one, "layout", LAYOUTS, upper=True) or "NCHW"
    mean = _numbers(fields, "mean")
    std = _numbers(fields, "std")
    if std is not None and any(s == 0 for s in std):
        raise InputError("--preprocess: std=0 would divide by zero")
    if mean is not None and std is not None and len(mean) != len(std):
        raise InputError(f"--preprocess: mean has {len(mean)} values but std has {len(std)}")
    if color is not None:
        check_channels(mean, std, COLORS[color], f"color={color}")
    return Preprocess(
        input=one.get("input") or None,
        resize=_size(one, "resize"),
        crop=_size(one, "crop"),
        resample=_choice(one, "resample", RESAMPLERS, upper=False) or "bilinear",
        color=color,
        layout=layout,
        scale=_number(one["scale"], "scale") if "scale" in one else 1.0,
        mean=mean,
        std=std,
        dtype=_choice(one, "dtype", DTYPES, upper=False),
    )


def check_channels(mean: tuple[float, ...] | None, std: tuple[float, ...] | None, channels: int, what: str) -> None:
    """mean and std give one value per channel of the image."""
    for key, values in (("mean", mean), ("std", std)):
        if values is not None and len(values) != channels:
            raise InputError(f"--preprocess: {key} has {len(values)} value(s) but {what} has {channels} channel(s)")


def _choice(fields: dict[str, str], key: str, allowed: tuple[str, ...], *, upper: bool) -> str | None:
    if key not in fields:
        return None
    value = fields[key].upper() if upper else fields[key].lower()
    if value not in allowed:
        raise InputError(f"--preprocess: {key}={fields[key]} is not one of {'|'.join(allowed)}")
    return value


def _number(text: str, key: str) -> float:
    """A finite decimal or a fraction such as ``1/255``."""
    try:
        return float(Fraction(text.strip()))  # refuses nan/inf; overflows past float's range
    except (ValueError, ZeroDivisionError, OverflowError):
        raise InputError(f"--preprocess: {key}={text} is not a number") from None


def _numbers(fields: dict[str, list[str]], key: str) -> tuple[float, ...] | None:
    return tuple(_number(t, key) for t in fields[key]) if key in fields else None


def _size(fields: dict[str, str], key: str) -> Size | None:
    if key not in fields:
        return None
    parts = fields[key].lower().split("x")
    if len(parts) > 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise InputError(f"--preprocess: {key}={fields[key]} is not WIDTHxHEIGHT or N (positive integers)")
    return Size(int(parts[0]), int(parts[1]) if len(parts) == 2 else None)
