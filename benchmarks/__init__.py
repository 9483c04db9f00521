"""Benchmarks of tinygrad_gd against hand-written numpy and peer frameworks (not tests)."""
