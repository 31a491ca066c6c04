"""`doppel keys`: key pairs, the allow-list, and which addresses count as remote."""

from __future__ import annotations

import pytest
import zmq
import zmq.auth

from backend.cli import main
from backend.security.curve import KeysError, init_keys, is_loopback


@pytest.mark.parametrize("address, loopback", [
    ("tcp://127.0.0.1:5557", True), ("tcp://127.0.0.2:5557", True),
    ("tcp://localhost:5557", True), ("tcp://[::1]:5557", True), ("ipc:///tmp/x", True),
    ("tcp://0.0.0.0:5557", False), ("tcp://*:5557", False), ("tcp://192.168.1.4:5557", False),
    ("tcp://eth0:5557", False),
])
def test_loopback_addresses_are_told_from_remote_ones(address, loopback):
    assert is_loopback(address) is loopback


def test_keys_init_makes_pairs_and_allows_its_client(tmp_path, capsys):
    assert main(["keys", "init", "--dir", str(tmp_path)]) == 0
    server_pub, server_sec = zmq.auth.load_certificate(tmp_path / "server.key_secret")
    client_pub, client_sec = zmq.auth.load_certificate(tmp_path / "client.key_secret")
    assert server_sec and client_sec and server_pub != client_pub
    allowed = zmq.auth.load_certificates(tmp_path / "allowed_clients")
    assert client_pub in allowed and server_pub not in allowed
    assert (tmp_path / "server.key_secret").stat().st_mode & 0o077 == 0   # secret not world-readable
    assert "doppel serve" in capsys.readouterr().out


def test_keys_init_never_overwrites_silently(tmp_path):
    init_keys(tmp_path)
    before = (tmp_path / "server.key_secret").read_bytes()
    with pytest.raises(KeysError, match="already exist"):
        init_keys(tmp_path)
    assert (tmp_path / "server.key_secret").read_bytes() == before
    assert main(["keys", "init", "--dir", str(tmp_path)]) == 1
