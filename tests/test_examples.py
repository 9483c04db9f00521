"""Every script in examples/ runs to completion, in a subprocess, in a few seconds.

The scripts are found by glob, so a new example is covered the moment it is added.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
TIME_LIMIT_S = 60  # a hang guard, not a timing assertion: examples take a second or two


def test_examples_are_found():
    names = {path.name for path in EXAMPLES}
    assert {"fit_line.py", "custom_loss.py", "cnn_digits.py"} <= names, f"examples/ holds only {sorted(names)}"


@pytest.mark.parametrize("script", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_runs(script, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,  # an example that writes files writes them here, not into the repository
        env=env,
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT_S,
    )
    assert result.returncode == 0, (
        f"examples/{script.name} exited with {result.returncode}\n"
        f"--- stdout (end) ---\n{result.stdout[-2000:]}\n--- stderr (end) ---\n{result.stderr[-4000:]}"
    )
    assert result.stdout.strip(), f"examples/{script.name} printed nothing; an example should show its result"
