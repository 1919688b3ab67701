"""Quantization-aware training on qcc's float IR (numpy only): reverse-mode gradients, LSQ fake
quantization, oscillation dampening and iterative freezing (docs/qat.md)."""

# The reverse-mode rules beyond qcc.train.backward's core set register themselves on import.
from qcc.train import backward_activations, backward_normalization, backward_pooling  # noqa: E402, F401
