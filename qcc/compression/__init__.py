"""Model compression before quantization: spatial SVD and channel pruning of convolutions, and the
greedy choice of per-layer ratios that meets a MAC budget (the passes spatial-svd, prune-channels
and compress are thin wrappers over these modules)."""
