"""Neural-network float ops: convolutions, matrix products, pooling, normalization, softmax."""

from __future__ import annotations
