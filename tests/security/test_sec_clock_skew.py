"""Finding 2 (H-8): every node's clock skew is reported from its operations endpoint's HTTP ``Date`` and a
skew above the threshold — or a node that cannot be read — is a warning (``qcchain time check``)."""

from __future__ import annotations

import email.utils
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from qcchain_cli.main import cli
from qcchain_network.clockcheck import measure, parse_endpoint


def _server(offset: float) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def date_time_string(self, timestamp: float | None = None) -> str:
            return email.utils.formatdate(time.time() + offset, usegmt=True)

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()
            self.wfile.write(b'{"status":"OK"}')

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture()
def nodes() -> Iterator[dict[str, str]]:
    servers = {"peer0": _server(0.0), "orderer0": _server(120.0)}
    yield {name: f"http://127.0.0.1:{s.server_address[1]}" for name, s in servers.items()}
    for s in servers.values():
        s.shutdown()
        s.server_close()


def test_each_node_skew_is_measured_from_its_date_header(nodes: dict[str, str]) -> None:
    good, skewed = measure("peer0", nodes["peer0"]), measure("orderer0", nodes["orderer0"])
    assert abs(good.skew) <= good.uncertainty and not good.over(5.0)
    assert 118 <= skewed.skew <= 122 and skewed.over(5.0) and not skewed.over(300.0)


def test_time_check_warns_above_the_threshold_and_names_unreachable_nodes(nodes: dict[str, str]) -> None:
    args = ["time", "check", f"peer0={nodes['peer0']}", f"orderer0={nodes['orderer0']}", "gone=http://127.0.0.1:9"]
    result = CliRunner().invoke(cli, args)
    lines = result.output.splitlines()
    assert result.exit_code == 0 and len(lines) == 3, result.output
    assert lines[0].startswith("ok peer0") and lines[1].startswith("WARNING orderer0") and "above 5 s" in lines[1]
    assert lines[2].startswith("WARNING gone") and "unreachable" in lines[2]
    assert CliRunner().invoke(cli, [*args, "--strict"]).exit_code == 1
    parsed = json.loads(CliRunner().invoke(cli, [*args[:4], "--json", "--threshold", "300"]).stdout)
    assert [n["warning"] for n in parsed] == [False, False]


def test_a_bad_endpoint_is_one_clear_line() -> None:
    with pytest.raises(ValueError, match="not an http"):
        parse_endpoint("peer0=ftp://x")
    result = CliRunner().invoke(cli, ["time", "check", "peer0=localhost:9443"])
    assert result.exit_code != 0 and "not an http:// or https:// URL" in result.output
