"""qcc passes: one pass per file, registered in the pass registry on import."""
