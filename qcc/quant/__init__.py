"""Quantization: parameter choice, the lowering rules of the quantize pass, fake-quant simulation.

Importing this package registers the lowering rules."""

from qcc.quant import rules_binary, rules_elementwise, rules_integer, rules_nn, rules_special, rules_tensor  # noqa: F401
