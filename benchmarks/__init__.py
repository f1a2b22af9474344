"""Benchmark suite of sklearn_tsmask: ``python -m benchmarks --help``."""
