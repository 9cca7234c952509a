"""``scripts/network.sh status`` reports every running node's clock skew (H-8, T-5.2a): the operations
endpoints come from the generated ``env/<node>.env`` files; a skewed or unreadable node is a WARNING."""

from __future__ import annotations

import email.utils
import http.server
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qcchain_network.__main__ import clock_lines
from qcchain_network.clockcheck import network_endpoints
from qcchain_network.derive import derive
from qcchain_network.render import render_all
from qcchain_consortium.consortium import load_consortium


def _server(skew: float) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def date_time_string(self, timestamp: float | None = None) -> str:
            return email.utils.formatdate(time.time() + skew, usegmt=True)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"127.0.0.1:{server.server_address[1]}"


@pytest.fixture()
def servers() -> Iterator[dict[str, str]]:
    on_time, ahead = _server(0.0), _server(120.0)
    yield {"on_time": on_time[1], "ahead": ahead[1]}
    for server, _ in (on_time, ahead):
        server.shutdown()
        server.server_close()


def test_endpoints_come_from_the_generated_env_files(tmp_path: Path) -> None:
    render_all(derive(load_consortium(None), tmp_path))
    endpoints = dict(network_endpoints(tmp_path))
    assert endpoints["peer0.regulator.qcchain.example"].startswith("http://127.0.0.1:")
    assert len(endpoints) == 8 and "orderer0.qcchain.example" in endpoints
    assert len(set(endpoints.values())) == 8  # one operations port per node


def test_status_warns_on_a_skewed_clock_and_skips_stopped_nodes(tmp_path: Path, servers: dict[str, str]) -> None:
    env = tmp_path / "env"
    env.mkdir()
    (env / "peer0.a.example.env").write_text(f"CORE_OPERATIONS_LISTENADDRESS='{servers['on_time']}'\n")
    (env / "orderer0.example.env").write_text(f"ORDERER_OPERATIONS_LISTENADDRESS='{servers['ahead']}'\n"
                                              "ORDERER_OPERATIONS_TLS_ENABLED='false'\n")
    (env / "peer0.b.example.env").write_text("CORE_OPERATIONS_LISTENADDRESS='127.0.0.1:1'\n")
    (env / "peer0.c.example.env").write_text("CORE_OPERATIONS_LISTENADDRESS='127.0.0.1:1'\n")
    lines = clock_lines(tmp_path, {"peer0.a.example", "orderer0.example", "peer0.b.example"}, 5.0)
    assert len(lines) == 3, lines
    by_node = {line.split(" (")[0].split()[-1]: line for line in lines}
    assert by_node["peer0.a.example"].startswith("clock ok peer0.a.example")
    assert by_node["orderer0.example"].startswith("clock WARNING orderer0.example")
    assert by_node["orderer0.example"].endswith("above 5 s")
    skew = float(re.search(r"skew ([+-][0-9.]+) s", by_node["orderer0.example"])[1])  # type: ignore[index]
    assert 118 <= skew <= 122, skew
    assert by_node["peer0.b.example"].startswith("clock WARNING") and "clock not read: unreachable" in by_node["peer0.b.example"]
    assert not any("peer0.c.example" in line for line in lines)  # stopped: not asked
