"""Post-training quantization techniques that win accuracy back, shared by the passes
`equalize`, `absorb-high-bias`, `correct-bias` and `adaround` (passes/*.py).

- ``layers``: where a weight layer keeps its output and input channels, per-channel ranges, biases.
- ``chains``: pairs of weight layers joined by a (possibly) scale-equivariant activation.
- ``statistics``: the batch-norm statistics fold-batchnorm records, and clipped-normal moments.
- ``expectation``: a value's expected per-channel mean from those statistics alone (data-free).
- ``settings``: the quantization settings (widths, per-channel) the passes predict the quantizer's
  grid with, built the way the quantize pass builds them.
- ``walk``: one walk over the graph in topological order that hands each layer its inputs on every
  path for all samples, running each node once per sample (``activations`` holds them, in RAM up
  to a budget, on disk beyond).
- ``paths``: the fake-quantized and the float network as paths of that walk.
- ``rounding``: AdaRound's optimizer (rectified sigmoid, annealed regularizer, Adam, im2col).

References: Nagel, van Baalen, Blankevoort, Welling, "Data-Free Quantization Through Weight
Equalization and Bias Correction", ICCV 2019, arXiv:1906.04721 (DFQ); Nagel, Amjad, van Baalen,
Louizos, Blankevoort, "Up or Down? Adaptive Rounding for Post-Training Quantization", ICML 2020,
arXiv:2004.10568 (AdaRound).
"""
