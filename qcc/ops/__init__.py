"""The float and integer op families. Importing this package registers every op definition."""

# registration order matters, so the import sorter leaves this block alone
# isort: off
from qcc.ops import elementwise, nn, tensor  # noqa: F401  (float ops first: integer ops reuse their shape rules)
from qcc.ops import pointwise  # noqa: F401, E402  (expressions over the element-wise ops)
from qcc.ops import quantized, quantized_binary  # noqa: F401, E402
from qcc.ops import quantized_accumulator  # noqa: F401, E402  (int32 accumulator outputs)
from qcc.ops import integer  # noqa: F401, E402  (the integer op table)
# isort: on
