"""qcc backends: executors and code generators for quantized graphs."""
