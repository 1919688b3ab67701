"""The integer reference executor: numpy code that *defines* what a quantized qcc graph computes.

``docs/arithmetic.md`` is the contract, formula by formula. The
helpers every executor shares live here once: ``arith`` (requantization, rounding divisions,
offline quantization, range and overflow math) and ``lut`` (table builders and the int16
interpolating lookup). The generated C kernels (``csrc/``) must equal them bit for bit.
"""
