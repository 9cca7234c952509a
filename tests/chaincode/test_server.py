"""Server configuration: keepalive policy (options + a real idle-ping test), env config, TLS, SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from fakepeer import PeerDriver, running_server

from qcchain_shim.errors import ConfigError
from qcchain_bench.example import KVContract
from qcchain_shim.server import KeepalivePolicy, config_from_env, server_options

PEER_PINGS = [
    ("grpc.keepalive_time_ms", 250),
    ("grpc.keepalive_timeout_ms", 2000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.http2.min_sent_ping_interval_without_data_ms", 100),
    ("grpc.http2.min_time_between_pings_ms", 100),
]


def test_default_options_accept_the_peers_60s_pings() -> None:
    opts = dict(server_options())
    assert opts["grpc.keepalive_permit_without_calls"] == 1
    assert opts["grpc.http2.min_ping_interval_without_data_ms"] <= 30_000  # peer pings every 60 s
    assert opts["grpc.http2.min_recv_ping_interval_without_data_ms"] <= 30_000
    assert opts["grpc.keepalive_time_ms"] == 60_000 and opts["grpc.keepalive_timeout_ms"] == 20_000


def _idle_stream_survives(policy: KeepalivePolicy, idle: float = 2.2) -> bool:
    with running_server([KVContract()], keepalive=policy) as (_, address):
        peer = PeerDriver(address, options=PEER_PINGS)
        try:
            peer.connect()
            time.sleep(idle)  # idle stream, the client pings every 200 ms
            if not peer.connected:
                return False
            return peer.submit(["put", "k", "v"], timeout=5).ok
        except (ConnectionError, TimeoutError):
            return False
        finally:
            peer.close()


def test_idle_pings_accepted_with_permissive_policy() -> None:
    # A real idle stream with client pings (gRPC core sends them at most ~1/s): the server must keep
    # the stream open and serve afterwards. (gRPC core does not count ping strikes while a stream is
    # open, unlike grpc-go's server that the notes observed; the options test pins the policy itself.)
    assert _idle_stream_survives(KeepalivePolicy(min_ping_interval_ms=100))


def test_config_from_env_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CHAINCODE_ID"):
        config_from_env({"CHAINCODE_SERVER_ADDRESS": "127.0.0.1:1"})
    with pytest.raises(ConfigError, match="CHAINCODE_SERVER_ADDRESS"):
        config_from_env({"CHAINCODE_ID": "cc:1"})
    base = {"CHAINCODE_ID": "cc:1", "CHAINCODE_SERVER_ADDRESS": "0.0.0.0:9999"}
    with pytest.raises(ConfigError, match="CHAINCODE_TLS_KEY_FILE"):
        config_from_env({**base, "CHAINCODE_TLS_KEY_FILE": str(tmp_path / "missing.pem")})
    (tmp_path / "k.pem").write_bytes(b"k")
    with pytest.raises(ConfigError, match="CHAINCODE_TLS_CERT_FILE"):
        config_from_env({**base, "CHAINCODE_TLS_KEY_FILE": str(tmp_path / "k.pem")})
    cfg = config_from_env(base)
    assert cfg.chaincode_id == "cc:1" and cfg.tls is None


def _tls_material(tmp_path: Path) -> tuple[bytes, bytes]:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(7).not_valid_before(dt.datetime(2024, 1, 1)).not_valid_after(dt.datetime(2034, 1, 1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def test_tls_server(tmp_path: Path) -> None:
    from qcchain_shim.server import TLSConfig

    key, cert = _tls_material(tmp_path)
    with running_server([KVContract()], tls=TLSConfig(key, cert)) as (_, address):
        creds = grpc.ssl_channel_credentials(root_certificates=cert)
        peer = PeerDriver(address.replace("127.0.0.1", "localhost"), credentials=creds)
        try:
            peer.connect()
            assert peer.submit(["put", "k", "v"]).ok
        finally:
            peer.close()


def test_sigterm_stops_the_served_example_cleanly() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, CHAINCODE_ID="ex:1", CHAINCODE_SERVER_ADDRESS=f"127.0.0.1:{port}")
    proc = subprocess.Popen([sys.executable, "-m", "qcchain_bench.example"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        peer = PeerDriver(f"127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while not peer.connected and time.monotonic() < deadline:
            try:
                peer.connect()
            except (ConnectionError, TimeoutError):
                time.sleep(0.1)
        assert peer.submit(["put", "k", "v"]).ok
        peer.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert "stopping the chaincode server" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_missing_env_exits_with_a_clear_message() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINCODE_")}
    out = subprocess.run([sys.executable, "-m", "qcchain_bench.example"], env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "CHAINCODE_ID" in out.stderr
