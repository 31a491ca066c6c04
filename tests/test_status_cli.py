"""`doppel status` against a local-engine server, and `doppel serve --ray` refusing to start
when its cluster is not there (neither needs a Ray cluster)."""

from __future__ import annotations

import json
import socket

import pytest

from backend.cli import main
from protocol.client import Client
from server_fixtures import running_server


def test_status_shows_the_local_engine_and_counts_jobs(tmp_path, capsys):
    with running_server(tmp_path, jobs={"fast": "server_jobs:fast"}, workers=1) as server:
        with Client(server.address, timeout=30.0) as client:
            client.run_job("fast", {"n": 1}, timeout=60)
        capsys.readouterr()
        assert main(["status", "--server", server.address, "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert info["engine"] == "local" and info["server_version"]
        (node,) = info["nodes"]
        assert node["done"] == 1 and node["running"] == 0 and node["cpus"] >= 1
        assert main(["status", "--server", server.address]) == 0
        text = capsys.readouterr().out
        assert "engine local, 1 node" in text and "running" in text


def test_status_of_an_absent_server_says_so(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["status", "--server", f"tcp://127.0.0.1:{port}"]) == 1
    assert "cannot reach server" in capsys.readouterr().err


def test_serve_refuses_to_start_when_the_ray_cluster_is_unreachable(tmp_path, capsys):
    pytest.importorskip("ray", reason="Ray is the optional 'cluster' extra")
    with socket.socket() as s:       # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc = main(["serve", "--bind", "tcp://127.0.0.1:0", "--ray", f"127.0.0.1:{port}",
               "--results", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 1 and f"cannot reach the Ray cluster at 127.0.0.1:{port}" in err
    assert "ray start --head" in err
