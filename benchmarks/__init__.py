"""Benchmarks of tinygrad_gd against hand-written numpy and peer frameworks (not tests).

Every implementation runs its linear algebra on one thread (PyTorch via
``torch.set_num_threads(1)``, numpy's BLAS via the variables below, set before numpy is
imported), so that the ratios compare the frameworks, not their thread pools. Set a variable
yourself before running to override it.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
