"""Graded logs: JSON lines with level and category, security/audit in separate files kept longer, rotation,
redaction as the last line of defence."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from qcchain_core.logconfig import configure, redact


@pytest.fixture()
def logdir(tmp_path: Path) -> Iterator[Path]:
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield tmp_path / "logs"
    for h in [h for h in root.handlers if h not in before]:
        root.removeHandler(h)
        h.close()
    root.setLevel(level)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_categories_and_separate_files(logdir: Path) -> None:
    configure(logdir, process="unit", stream=None, max_bytes=10_000, backups=2, long_backups=9)
    logging.getLogger("qcchain_ingest.security").warning("login refused for %s", "app-1")
    logging.getLogger("x").info("granted", extra={"category": "audit"})
    logging.getLogger("qcchain_devnet.node").info("block 7 committed")
    logging.getLogger("y").info("record stored", extra={"category": "business"})
    logging.getLogger("z").debug("not written at INFO")
    main = _lines(logdir / "unit.log")
    assert [(r["level"], r["category"]) for r in main] == [("WARNING", "security"), ("INFO", "audit"),
                                                            ("INFO", "operations"), ("INFO", "business")]
    assert all(r["process"] == "unit" and r["time"].endswith("+00:00") for r in main)
    assert [r["message"] for r in _lines(logdir / "security.log")] == ["login refused for app-1"]
    assert [r["message"] for r in _lines(logdir / "audit.log")] == ["granted"]
    handlers = {Path(h.baseFilename).name: h for h in logging.getLogger().handlers if hasattr(h, "baseFilename")}
    assert handlers["security.log"].backupCount == 9 > handlers["unit.log"].backupCount == 2


def test_rotation(logdir: Path) -> None:
    configure(logdir, process="rot", stream=None, max_bytes=2_000, backups=2)
    for i in range(200):
        logging.getLogger("r").info("line %d %s", i, "x" * 50)
    names = sorted(p.name for p in logdir.glob("rot.log*"))
    assert names == ["rot.log", "rot.log.1", "rot.log.2"]


def test_redaction_last_line_of_defence(logdir: Path) -> None:
    configure(logdir, process="red", stream=None, sensitive=["L3-plaintext-brake"])
    log = logging.getLogger("leaky")
    log.warning("cfg password=hunter2 token: abc.def.ghi AppSecret=Zx9-secret pin=4711")
    log.warning("header Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig")
    log.warning("key -----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG\n-----END PRIVATE KEY----- done")
    log.warning("item %s", "L3-plaintext-brake")
    try:
        raise ValueError("password=in-exception")
    except ValueError:
        log.exception("failed")
    text = (logdir / "red.log").read_text()
    for secret in ("hunter2", "abc.def.ghi", "Zx9-secret", "4711", "eyJhbGci", "MIGHAgEAMBMG", "L3-plaintext-brake",
                   "in-exception"):
        assert secret not in text, secret
    assert text.count("[REDACTED]") >= 8
    assert redact("tx 3f2a… committed") == "tx 3f2a… committed"


def test_http_client_request_lines_stay_out_of_the_logs(logdir: Path) -> None:
    """Appendix B's token request is a GET with ``secret=`` in its query; httpx logs each request URL at INFO.
    configure() raises the HTTP client libraries to WARNING, so no request line (and no secret) is written."""
    import httpx

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"rescode": "1"})

    configure(logdir, process="web", stream=None)
    with httpx.Client(transport=httpx.MockTransport(answer), base_url="https://ingest.example") as client:
        client.get("/jsdspcloud/servlet/token", params={"appid": "qc1", "secret": "s3cr3t-app-secret"})
    logging.getLogger("qcchain.test").info("after the request")
    text = (logdir / "web.log").read_text()
    assert "after the request" in text and "s3cr3t-app-secret" not in text and "HTTP Request" not in text
