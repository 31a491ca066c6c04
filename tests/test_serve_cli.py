"""`doppel serve` as a user runs it: a real process that listens, answers, and stops cleanly."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend.cli import main
from protocol import ProtocolError
from protocol.client import Client

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_listens_answers_and_stops_on_sigterm(tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"
    log = tmp_path / "serve.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "backend", "--bind", address,
                                 "--results", str(tmp_path / "results")], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=err)
    try:
        info, deadline = None, time.monotonic() + 90
        with Client(address, timeout=1.0) as client:
            while info is None and time.monotonic() < deadline and proc.poll() is None:
                try:
                    info = client.hello()
                except ProtocolError:
                    pass
        assert info is not None, log.read_text()
        assert "body" in info["job_kinds"] and "anny" in info["body_models"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert f"listening on {address}" in text and "server stopped" in text


def test_serve_refuses_a_public_address_without_keys(capsys, tmp_path):
    assert main(["serve", "--bind", "tcp://0.0.0.0:5557", "--results", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "refusing to bind" in err and "doppel keys init" in err and "--keys" in err


def test_serve_with_a_key_folder_lacking_keys_says_how_to_make_them(capsys, tmp_path):
    assert main(["serve", "--bind", "tcp://0.0.0.0:5557", "--keys", str(tmp_path / "none"),
                 "--results", str(tmp_path)]) == 1
    assert "doppel keys init" in capsys.readouterr().err
