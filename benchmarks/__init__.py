"""Benchmarks of tinygrad_gd against hand-written numpy and peer frameworks (not tests).

Run ``python -m benchmarks`` (or ``python benchmarks/run.py``); see ``run.py``.
"""
