"""Shared test settings: hypothesis profiles, and tests/ on sys.path so that test modules
share helpers with `from op_table import OP_TABLE`.

Profiles:

* ``ci`` (the default, with or without ``CI`` set): derandomized, 60 examples per test.
  A fixed seed, so ``pytest`` gives the same result on every run and every machine.
* ``thorough``: random exploration, 300 examples per test (five times as many programs for
  the gradient fuzzer). Opt in with ``pytest --hypothesis-profile=thorough`` (hypothesis's
  pytest plugin) or ``HYPOTHESIS_PROFILE=thorough pytest``. A failure prints the falsifying
  example and a ``@reproduce_failure`` blob; keep the example as a regression case.
  ``dev`` is the old name of this profile and still works.
"""

import os
import sys

from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

_SUPPRESSED = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile(
    "ci",
    derandomize=True,  # a fixed seed: every run, local or CI, is the same run
    deadline=None,
    max_examples=60,
    suppress_health_check=_SUPPRESSED,
    print_blob=True,
)
for _name in ("thorough", "dev"):  # "dev": the name this profile had before
    settings.register_profile(
        _name,
        deadline=None,
        max_examples=300,
        suppress_health_check=_SUPPRESSED,
        print_blob=True,
    )
# `--hypothesis-profile=NAME` (loaded by hypothesis's plugin after this file) wins over this.
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or "ci")
