"""FP8 simulated in numpy, for analysis only: which tensors an 8-bit float format would represent
better than qcc's 8-bit integers (qcc's targets stay integer).

A format ``EeMm`` has a sign bit, ``e`` exponent bits with bias ``b`` and ``m`` mantissa bits. An
exponent field E > 0 encodes ``(1 + f / 2^m) * 2^(E - b)``; E = 0 encodes the subnormals
``(f / 2^m) * 2^(1 - b)``. Which encodings are not finite follows Micikevicius et al. 2022, "FP8
Formats for Deep Learning" (arXiv:2209.05433), §3: E5M2 keeps IEEE 754's conventions (the top
exponent field is infinity/NaN), E4M3 gives up infinities and reserves only the all-ones encoding
(S.1111.111) for NaN, which extends its range to 448. E3M4 and E2M5 are not standardized; they are
simulated with E4M3's convention (only all-ones is NaN), as the finite-range formats of Kuzmin et al.
2022, "FP8 Quantization: The Power of the Exponent" (arXiv:2208.09225).

Conversion rounds to the nearest representable value, ties to an even mantissa, and saturates:
magnitudes beyond the largest finite value become that value (the "saturating" conversion of
Micikevicius et al. §4, which they recommend for inference). The exponent bias is a free
parameter, as in Kuzmin et al. §3.1: changing it scales the grid by a power of two, which is how a
per-tensor FP8 format is fitted to a tensor's range (``best_bias``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FP8Format:
    """An 8-bit float layout; ``ieee`` says whether the top exponent field is reserved (inf/NaN)."""

    name: str
    exponent_bits: int
    mantissa_bits: int
    ieee: bool = False

    def __post_init__(self) -> None:
        if 1 + self.exponent_bits + self.mantissa_bits != 8:
            raise ValueError(f"{self.name}: 1 + {self.exponent_bits} + {self.mantissa_bits} bits is not 8")

    @property
    def default_bias(self) -> int:
        return (1 << (self.exponent_bits - 1)) - 1

    def max_value(self, bias: int | None = None) -> float:
        """The largest finite magnitude (E4M3 at bias 7: 448; E5M2 at bias 15: 57344)."""
        b = self.default_bias if bias is None else bias
        top = (1 << self.exponent_bits) - (2 if self.ieee else 1)
        # IEEE keeps every mantissa of the last finite binade; the others lose the all-ones one (NaN)
        mantissa = 2.0 - 2.0 ** (-self.mantissa_bits if self.ieee else 1 - self.mantissa_bits)
        return float(np.ldexp(mantissa, top - b))

    def min_subnormal(self, bias: int | None = None) -> float:
        b = self.default_bias if bias is None else bias
        return float(np.ldexp(1.0, 1 - b - self.mantissa_bits))

    def representable(self, bias: int | None = None) -> np.ndarray:
        """Every finite non-negative value, ascending (for tests and plots)."""
        b = self.default_bias if bias is None else bias
        m = self.mantissa_bits
        fractions = np.arange(1 << m, dtype=np.float64)
        values = [np.ldexp(fractions / (1 << m), 1 - b)]  # subnormals and zero
        for field in range(1, 1 << self.exponent_bits):
            values.append(np.ldexp(1.0 + fractions / (1 << m), field - b))
        finite = np.concatenate(values)
        return finite[finite <= self.max_value(b)]


FORMATS: dict[str, FP8Format] = {
    f.name: f
    for f in (
        FP8Format("E2M5", 2, 5),
        FP8Format("E3M4", 3, 4),
        FP8Format("E4M3", 4, 3),
        FP8Format("E5M2", 5, 2, ieee=True),
    )
}


def quantize_fp8(x: np.ndarray, fmt: FP8Format, bias: int | None = None) -> np.ndarray:
    """``x`` rounded to the nearest value of ``fmt`` (ties to even mantissa), saturating; float64."""
    b = fmt.default_bias if bias is None else bias
    x = np.asarray(x, dtype=np.float64)
    magnitude = np.abs(x)
    _, exponent = np.frexp(magnitude)  # magnitude = f * 2^exponent, f in [0.5, 1): binade 2^(exponent-1)
    binade = np.maximum(exponent - 1, 1 - b)  # below the smallest normal binade the spacing stays fixed
    step = np.ldexp(1.0, binade - fmt.mantissa_bits)
    rounded = np.rint(magnitude / step) * step  # np.rint ties to even: the mantissa's last bit
    return np.copysign(np.minimum(rounded, fmt.max_value(b)), x)


def best_bias(x: np.ndarray, fmt: FP8Format, extra: int = 6) -> int:
    """The exponent bias with the least squared error on ``x``: from the bias whose range just covers
    max|x| up to ``extra`` more (a finer grid that clips the largest values) and two below."""
    amax = float(np.max(np.abs(x), initial=0.0))
    if amax == 0.0:
        return fmt.default_bias
    # max_value(b) = max_value(0) * 2^-b >= amax  <=>  b <= log2(max_value(0) / amax)
    covering = int(np.floor(np.log2(fmt.max_value(0) / amax)))
    candidates = range(covering - 2, covering + extra + 1)
    x64 = np.asarray(x, dtype=np.float64)
    errors = [float(np.sum((quantize_fp8(x64, fmt, b) - x64) ** 2)) for b in candidates]
    return candidates[int(np.argmin(errors))]
