"""The Dask runner's checks (tests/distributed_checks.py), run in a pytest process of their own.

A LocalCluster and its Client leave event-loop threads and handlers in the process that started
them; in the full suite, later tests in the same process then failed (the real Ctrl-C test, the
divergence retry) and one crashed inside JAX's compilation cache. A separate process keeps the
cluster's state out of every other test, while the checks themselves stay as strict.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

HERE = os.path.dirname(os.path.abspath(__file__))


def test_distributed_checks_pass_in_their_own_process():
    pytest.importorskip("distributed")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(HERE) + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o",
         "python_files=distributed_checks.py", os.path.join(HERE, "distributed_checks.py")],
        cwd=os.path.dirname(HERE), env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    assert " passed" in out.stdout and "failed" not in out.stdout and "skipped" not in out.stdout
