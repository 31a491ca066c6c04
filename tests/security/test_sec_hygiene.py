"""Issue 18, point 6: logs cannot be forged or flooded, results and keys are private, crashes
leave no debris, the Blender local server logs in the user's own cache."""

from __future__ import annotations

import logging
import os
import stat
import tempfile
import time

import pytest
import zmq

from backend.security.curve import create_pair, init_keys
from protocol import save_avatar
from protocol.client import Client
from avatar_samples import tiny_avatar
from sec_helpers import raw_socket
from server_fixtures import running_server
from server_jobs import TEST_JOBS


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_newline_in_the_client_name_cannot_forge_log_lines(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="doppel.server")
    forged = "me\n2026-01-01 INFO doppel.server: job 00 queued for client admin\x1b[2J"
    with running_server(tmp_path, jobs=TEST_JOBS) as srv, \
            Client(srv.address, client_name=forged) as c:
        c.hello()
    hello = [r.getMessage() for r in caplog.records if "hello from" in r.getMessage()]
    assert hello and all("\n" not in m and "\x1b" not in m for m in hello)
    assert any("\\n2026-01-01" in m for m in hello)


def test_repeated_refusals_are_throttled(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    with running_server(tmp_path, jobs=TEST_JOBS) as srv:
        sock = raw_socket(srv.address)
        try:
            for _ in range(200):
                sock.send_multipart([b"not json"])
            for _ in range(200):
                assert sock.poll(5000)
                sock.recv_multipart()
        finally:
            sock.close()
    lines = [r for r in caplog.records if "not a JSON header" in r.getMessage()]
    assert 1 <= len(lines) <= 2, len(lines)


def test_unknown_curve_peers_are_logged_once_a_minute(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    keys = tmp_path / "keys"
    init_keys(keys)
    _, stranger = create_pair(tmp_path, "stranger")
    server_pub, _ = zmq.auth.load_certificate(keys / "server.key")
    creds = (server_pub, *zmq.auth.load_certificate(stranger))
    with running_server(tmp_path / "results", jobs=TEST_JOBS, bind="tcp://127.0.0.2:*",
                        keys=keys) as srv:
        socks = [raw_socket(srv.address, curve=creds) for _ in range(20)]
        time.sleep(2.0)
        for s in socks:
            s.close()
    unknown = [r for r in caplog.records if "unknown CURVE key" in r.getMessage()]
    handshakes = [r for r in caplog.records if "refused a connection" in r.getMessage()]
    assert 1 <= len(unknown) <= 2 and len(handshakes) <= 2, (len(unknown), len(handshakes))


def test_results_are_private_and_half_written_files_are_swept(tmp_path):
    results = tmp_path / "results"
    (results / "jobs").mkdir(parents=True)
    os.chmod(results, 0o755)
    stray = [results / ("a" * 32 + ".doppel.part"), results / "jobs" / ("b" * 32 + ".json.part")]
    for p in stray:
        p.write_bytes(b"half")
    with running_server(results, jobs=TEST_JOBS) as srv, Client(srv.address) as c:
        c.run_job("fast", {}, timeout=30)
        job_id = c.status()[-1]["job_id"]
    assert not any(p.exists() for p in stray)
    assert _mode(results) == 0o700 and _mode(results / "jobs") == 0o700
    for path in (results / f"{job_id}.doppel", results / f"{job_id}.json",
                 results / "jobs" / f"{job_id}.json", results / "owner.secret"):
        assert _mode(path) == 0o600, path


def test_avatar_files_are_fsynced_before_the_rename(tmp_path, monkeypatch):
    order = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (order.append("fsync"), real_fsync(fd)))
    monkeypatch.setattr(os, "replace", lambda a, b: (order.append("replace"), real_replace(a, b)))
    save_avatar(tiny_avatar(), tmp_path / "a.doppel")
    assert order == ["fsync", "replace"]


def test_secret_keys_are_0600_from_the_start(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "chmod", lambda *a, **k: None)    # no fixing up afterwards
    old = os.umask(0o022)
    try:
        paths = init_keys(tmp_path / "keys")
    finally:
        os.umask(old)
    for name in ("server_secret", "client_secret"):
        assert _mode(paths[name]) == 0o600, name


def test_the_local_server_log_is_in_the_users_cache(tmp_path, monkeypatch):
    from blender_addon.blender import local_server
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    default = local_server.default_log_path()
    assert default.is_relative_to(os.path.expanduser("~"))
    assert default.parent != __import__("pathlib").Path(tempfile.gettempdir())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = local_server.default_log_path()
    assert path.is_relative_to(tmp_path / "cache")
    with local_server._open_log(path) as fh:
        fh.write(b"x")
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    link = tmp_path / "cache" / "doppel" / "logs" / "planted.log"
    link.symlink_to(tmp_path / "elsewhere.log")
    with pytest.raises(OSError):
        local_server._open_log(link)
