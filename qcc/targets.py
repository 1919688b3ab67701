"""Target descriptions: what the hardware's integer arithmetic can do (docs/design.md §7).

The quantize pass consults the target to pick bit widths, per-channel weights and the rounding
mode, and refuses what the target cannot do; the backends refuse it too.
"""

from __future__ import annotations

from dataclasses import dataclass

from qcc.errors import QccError


@dataclass(frozen=True)
class Target:
    """One integer target.

    ``rounding`` is the requantization mode of docs/arithmetic.md §2.3: ``double`` (gemmlowp/TFLite/CMSIS-NN default)
    or ``single`` (TFLite/CMSIS-NN *_SINGLE_ROUNDING). ``wide_accumulator`` says whether int64
    accumulators exist (needed for int16 activations)."""

    name: str
    description: str
    weight_bits: tuple[int, ...]
    activation_bits: tuple[int, ...]
    per_channel: bool
    rounding: str
    wide_accumulator: bool
    lut: bool
    default_weight_bits: int = 8
    default_activation_bits: int = 8
    ram_bytes: int | None = None  # RAM for the activation arena; None: no stated limit (qcc.limits)

    def check_widths(self, weight_bits: int, activation_bits: int, where: str = "") -> None:
        """Raise a one-line error if the target cannot run these widths."""
        prefix = f"{where}: " if where else ""
        if weight_bits not in self.weight_bits:
            raise QccError(f"{prefix}target '{self.name}' supports {_widths(self.weight_bits)}-bit weights, not {weight_bits}-bit")
        if activation_bits not in self.activation_bits:
            raise QccError(f"{prefix}target '{self.name}' supports {_widths(self.activation_bits)}-bit activations, not {activation_bits}-bit")

    def check_per_channel(self, per_channel: bool) -> None:
        if per_channel and not self.per_channel:
            raise QccError(f"target '{self.name}' has no per-channel weight scales; use per-channel=false")


def _widths(bits: tuple[int, ...]) -> str:
    return "/".join(str(b) for b in bits)


LOW_BITS = (2, 3, 4, 5, 6, 7, 8)
"""Widths of a low-bit target: below 8, activations are int8 on a smaller grid and weights of at
most 4 bits are packed as nibbles (docs/arithmetic.md §3.19)."""

TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            "generic-int8",
            "TFLite-compatible int8: per-channel int8 weights, int8 activations, double rounding",
            weight_bits=(8,), activation_bits=(8,), per_channel=True, rounding="double",
            wide_accumulator=False, lut=True,
        ),
        Target(
            "dsp-w4a16",
            "DSP with int4/int8 weights, int8/int16 activations, single rounding, int64 accumulators",
            weight_bits=(4, 8), activation_bits=(8, 16), per_channel=True, rounding="single",
            wide_accumulator=True, lut=True, default_weight_bits=4, default_activation_bits=16,
        ),
        Target(
            "mcu-int8-per-tensor",
            "Small MCU NPU: int8 weights with one scale per tensor, int8 activations, double rounding",
            weight_bits=(8,), activation_bits=(8,), per_channel=False, rounding="double",
            wide_accumulator=False, lut=True, ram_bytes=512 * 1024,
        ),
        Target(
            "npu-lowbit",
            "NPU with 2- to 8-bit weights and activations (int8 containers, docs/arithmetic.md §3.19), "
            "per-channel, single rounding",
            weight_bits=LOW_BITS, activation_bits=LOW_BITS, per_channel=True, rounding="single",
            wide_accumulator=False, lut=True, default_weight_bits=4, default_activation_bits=8,
        ),
    )
}

DEFAULT_TARGET = "generic-int8"


def get_target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise QccError(f"unknown target '{name}' (known: {', '.join(TARGETS)})") from None
