"""CurveZMQ on a server reachable beyond loopback: only allow-listed clients get answers.

127.0.0.2 stands in for a network address (Linux routes all of 127/8 to loopback); the
server gets keys explicitly, as `doppel serve --bind tcp://0.0.0.0:PORT --keys DIR` would.
"""

from __future__ import annotations

import logging

import pytest
import zmq.auth

from backend.security.curve import init_keys
from backend.server import Server
from protocol import ErrorCode, ProtocolError
from protocol.client import Client
from protocol.curve_keys import load_curve_keys
from server_fixtures import running_server
from server_jobs import TEST_JOBS


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    init_keys(folder)
    return folder


@pytest.fixture(scope="module")
def curve_server(keys, tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("results"), jobs=TEST_JOBS,
                        bind="tcp://127.0.0.2:*", keys=keys) as server:
        yield server


def refused(caplog, text: str) -> bool:
    return any(text in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


def test_authenticated_client_runs_jobs(curve_server, keys):
    assert curve_server.address.startswith("tcp://127.0.0.2:")
    with Client(curve_server.address, timeout=5.0, server_key=keys / "server.key",
                client_key=keys / "client.key_secret") as client:
        assert client.hello()["version"] == 1
        assert client.run_job("fast", {"n": 3}, timeout=30).metadata["n"] == 3


def test_client_without_keys_gets_nothing_and_is_logged(curve_server, caplog):
    caplog.set_level(logging.INFO)
    with Client(curve_server.address, timeout=1.5) as client:
        with pytest.raises(ProtocolError) as exc:
            client.hello()
        assert client.poll(0.2) == []
    assert exc.value.code == ErrorCode.UNREACHABLE
    assert refused(caplog, "refused a connection"), caplog.text


def test_client_with_an_unknown_key_gets_nothing_and_is_logged(curve_server, keys, tmp_path,
                                                               caplog):
    caplog.set_level(logging.INFO)
    _, stranger = zmq.auth.create_certificates(tmp_path, "stranger")
    with Client(curve_server.address, timeout=1.5, server_key=keys / "server.key",
                client_key=stranger) as client:
        with pytest.raises(ProtocolError) as exc:
            client.submit("fast", {})
    assert exc.value.code == ErrorCode.UNREACHABLE
    assert refused(caplog, "unknown CURVE key"), caplog.text


def test_allowing_a_key_lets_that_client_in_without_a_restart(curve_server, keys, tmp_path):
    pub, sec = zmq.auth.create_certificates(tmp_path, "newcomer")
    with Client(curve_server.address, timeout=1.0, server_key=keys / "server.key",
                client_key=sec) as client:
        with pytest.raises(ProtocolError):
            client.ping()
        part = keys / "allowed_clients" / "newcomer.part"        # as `doppel keys allow`:
        part.write_bytes(open(pub, "rb").read())                    # whole file, then rename
        part.replace(keys / "allowed_clients" / "newcomer.key")
        client.timeout = 5.0
        try:
            assert client.ping() < 5.0
        finally:
            (keys / "allowed_clients" / "newcomer.key").unlink()


def test_a_half_copied_key_file_locks_nobody_out(curve_server, keys):
    broken = keys / "allowed_clients" / "half_copied.key"
    broken.write_bytes(b"#   ****  Generated on")          # a copy caught half way
    try:
        with Client(curve_server.address, timeout=5.0, server_key=keys / "server.key",
                    client_key=keys / "client.key_secret") as client:
            assert client.ping() < 5.0
    finally:
        broken.unlink()


def test_z85_keys_work_like_key_files(curve_server, keys):
    server_pub, _ = zmq.auth.load_certificate(keys / "server.key")
    pub, sec = zmq.auth.load_certificate(keys / "client.key_secret")
    with Client(curve_server.address, timeout=5.0, server_key=server_pub.decode(),
                client_key=(pub.decode(), sec.decode())) as client:
        assert client.ping() < 5.0


def test_remote_bind_without_keys_refuses_to_start(tmp_path):
    with pytest.raises(ValueError, match="doppel keys init"):
        Server("tcp://0.0.0.0:5557", results_dir=tmp_path, device="cpu", jobs=TEST_JOBS)


def test_bad_key_files_say_what_is_wrong(keys, tmp_path):
    with pytest.raises(ValueError, match="not found"):
        load_curve_keys(tmp_path / "nope.key", keys / "client.key_secret")
    with pytest.raises(ValueError, match="key_secret"):
        load_curve_keys(keys / "server.key", keys / "client.key")     # public half only
    with pytest.raises(ValueError, match="client key pair"):
        load_curve_keys(keys / "server.key", None)


def test_cli_clients_take_keys_from_the_environment(curve_server, keys, monkeypatch, capsys):
    """`doppel body --server ADDR` etc. build a plain Client: key files come from
    $DOPPEL_SERVER_KEY / $DOPPEL_CLIENT_KEY."""
    from backend.cli.common import run_job
    monkeypatch.setenv("DOPPEL_SERVER_KEY", str(keys / "server.key"))
    monkeypatch.setenv("DOPPEL_CLIENT_KEY", str(keys / "client.key_secret"))
    avatar = run_job("fast", {"n": 11}, {}, server=curve_server.address, quiet=True)
    assert avatar is not None and avatar.metadata["n"] == 11
