"""The layers of the tree as a checked contract: import-linter's contracts in pyproject.toml
(protocol imports nothing of ours, the rig core only protocol and never bpy/torch/scipy, the
server never imports the add-on except its headless entry point, no import cycles)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_real_components_are_installed():
    # The suite runs real Blender and the real Anny model: a missing one fails the run, it
    # never turns into a green run of skips.
    for module in ("bpy", "anny", "mediapipe", "zmq", "torch"):
        assert importlib.util.find_spec(module) is not None, f"{module} is not installed"
