"""``python -m benchmarks``: pin every BLAS to one thread, then run (see run.py)."""

import os
import sys

# Before numpy is imported: every implementation runs its linear algebra on one thread
# (PyTorch via torch.set_num_threads(1); numexpr, the fast extra, too), so that ratios compare
# frameworks, not thread pools.
# A variable already set by the user wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from benchmarks.run import main  # noqa: E402

sys.exit(main())
