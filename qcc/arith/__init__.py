"""qcc's integer arithmetic, defined once and below everything that uses it (docs/arithmetic.md).

``fixedpoint`` holds the run-time rules (ranges, rounding, multipliers, accumulator bounds),
``lut`` the table rules, ``params`` how quantization parameters are chosen offline. The quantizer,
fake-quant, the integer reference and the C lowering all import these; ``csrc/qcc_arith.h``
mirrors them and the tests compare the two.
"""
