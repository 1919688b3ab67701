"""Quantization-aware training on qcc's float IR (numpy only): reverse-mode gradients, LSQ fake
quantization, oscillation dampening and iterative freezing (docs/qat.md)."""
