"""Infrastructure code: the local stack, deploy helpers, benchmarks (never deployed)."""
