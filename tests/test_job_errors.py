"""A job's bad-input error reaches the client as such (its code, its message), whichever
modules the job happened to load: the worker must recognise backend.errors.JobInputError."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# A fresh process per case: which modules are loaded is what is under test.
CODE = """
from backend.jobs import JobContext, get_job
from backend.server.job_process import _input_error
try:
    get_job({kind!r})({params!r}, {{}}, JobContext("t"))
except Exception as exc:
    assert type(exc).__name__ == "JobInputError", exc
    assert _input_error(exc), "the worker would report a bug, not bad input: " + str(exc)
else:
    raise AssertionError("no error")
"""


@pytest.mark.parametrize("kind,params", [
    ("body", {"body_model": "nope"}),
    ("body", {"bogus": 1}),
    ("preview", {"views": 0}),
])
def test_worker_recognises_input_errors(kind, params):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    subprocess.run([sys.executable, "-c", CODE.format(kind=kind, params=params)], check=True,
                   env=env, cwd=REPO, capture_output=True)
