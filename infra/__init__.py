"""What is never deployed, one subfolder each: the local stack (local), operations commands (ops),
the deploy rehearsal (rehearsal) and benchmarks (bench)."""
