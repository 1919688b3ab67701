"""Quantization: parameter choice, the lowering rules of the quantize pass, fake-quant simulation."""
