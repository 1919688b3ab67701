"""Interoperability with other tools' quantization formats: QDQ ONNX and AIMET-style encodings
out (``qcc export``), encodings in (``--encodings``)."""
