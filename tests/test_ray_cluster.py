"""`doppel serve --ray` on a real two-node Ray cluster: runs tests/ray_cluster_suite.py inside a
private network namespace that has only loopback (`unshare -n`), because Ray binds the
machine's network address. That file holds the tests; this one sets up their network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SUITE = Path(__file__).with_name("ray_cluster_suite.py")


def test_ray_cluster_suite_in_a_private_network():
    pytest.importorskip("ray", reason="Ray is the optional 'cluster' extra: "
                        "pip install -e '.[test,cluster]' (scripts/setup does)")
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare -n is not permitted here (needs root); the Ray tests need a "
                    "private network namespace so Ray's traffic stays on loopback")
    env = {**os.environ, "DOPPEL_RAY_NETNS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests"),
                                          os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" -m '
                          'pytest "$1" -q -x -p no:cacheprovider', sys.executable, str(SUITE)],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-12000:] + run.stderr[-4000:]
    assert " passed" in run.stdout and "skipped" not in run.stdout, run.stdout[-3000:]
