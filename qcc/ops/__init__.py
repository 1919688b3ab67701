"""The float and integer op families. Importing this package registers every op definition."""

from qcc.ops import elementwise, nn, tensor  # noqa: F401
