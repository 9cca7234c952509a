"""Fixtures of the console tests: the demo story's devnet, extra risk data and a sharing request seeded
through the SDK, the Regulator's ingestion server (``qcchain ingest serve``) with an accepted and a refused
batch and an admin API key, console servers (one per org; the Regulator's with the ingestion admin API) run
as ``qcchain console serve`` processes, and a real headless Chromium driven by Selenium (skipped with a
reason when Chromium or its driver is absent)."""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from qcchain_console.server import open_state

from .seed import seed

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
PASSWORD = {"alice": "Alice-admin-42", "vera": "Vera-viewer-42", "otto": "Otto-operator-42"}
ROLES = {"alice": "admin", "vera": "viewer", "otto": "operator"}


def qcchain(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qcchain_cli.main", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ConsoleProc:
    org: str
    url: str
    state: Path
    log: Path
    proc: subprocess.Popen[bytes]
    secrets: list[str] = field(default_factory=list)

    def client(self, user: str | None = None) -> httpx.Client:
        """An HTTPS client (self-signed certificate accepted), logged in as ``user`` when given."""
        client = httpx.Client(base_url=self.url, verify=False, follow_redirects=False, timeout=60)
        if user is not None:
            token = csrf_of(client.get("/login").text)
            answer = client.post("/login", data={"username": user, "password": PASSWORD[user], "csrf": token})
            assert answer.status_code == 303 and answer.headers["location"] == "/", answer.text[:300]
        return client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@dataclass
class IngestProc:
    url: str
    cert: str
    key_file: Path
    appid: str
    accepted: str  # batchNo of the anchored batch
    refused: str  # batchNo of the refused batch
    refused_field: str  # the JSON path its violation names
    log: Path
    proc: subprocess.Popen[bytes]
    secrets: list[str] = field(default_factory=list)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url + "/jsdspcloud/servlet", verify=ssl.create_default_context(cafile=self.cert),
                            timeout=60)


def start_ingest(devnet: Path) -> IngestProc:
    """The Regulator's ingestion server on the devnet; an appid that sends one equipment batch (02) and one
    refused batch (01, a phone number too long); an admin API key for the console."""
    from qcchain_bench.ingestdata import batch_no, credit_code, record

    ready, log = devnet.parent / "ingest-ready.json", devnet.parent / "ingest.log"
    handle = open(log, "wb")  # noqa: SIM115 - the process owns it
    proc = subprocess.Popen([sys.executable, "-m", "qcchain_cli.main", "ingest", "serve", "--dir", str(devnet), "--port", "0",
                             "--ready-file", str(ready)], stdout=handle, stderr=handle)
    deadline = time.monotonic() + 90
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"ingest serve did not start: {log.read_text()[-2000:]}")
        time.sleep(0.2)
    info = json.loads(ready.read_text())
    key_file = devnet.parent / "ingest-admin.key"
    done = qcchain("ingest", "admin-key", "issue", "--dir", str(devnet), "--name", "console-regulator", "--out", str(key_file))
    assert done.returncode == 0, done.stderr
    issued = qcchain("ingest", "credentials", "issue", "--dir", str(devnet), "--org-no", credit_code(1414),
                     "--name", "控制台测试单位", "--json")
    cred = json.loads(issued.stdout)
    http = httpx.Client(base_url=info["url"] + "/jsdspcloud/servlet", verify=ssl.create_default_context(cafile=info["tls_cert"]), timeout=60)
    token = http.get("/token", params=cred).json()["data"]["access_token"]
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
    good, bad = batch_no(day, 1), batch_no(day, 2)
    body = {"access_token": token, "batchNo": good, "txcode": "02", "busType": "I",
            "data": [record("02", f"CONSOLE-EQ-{i}", good, "I", day, i) for i in range(3)]}
    answer = http.post("/syndata", json=body).json()
    assert answer["rescode"] == "1", answer
    refused = {"access_token": token, "batchNo": bad, "txcode": "01", "busType": "I",
               "data": [dict(record("01", "CONSOLE-U-1", bad, "I", day, 1), linkTel="0" * 60)]}
    answer = http.post("/syndata", json=refused).json()
    assert answer["rescode"] == "0" and answer["data"][0]["field"] == "$.linkTel", answer
    http.close()
    return IngestProc(info["url"], info["tls_cert"], key_file, cred["appid"], good, bad, "$.linkTel", log, proc,
                      [cred["secret"], key_file.read_text().strip()])


def start_console(devnet: Path, org: str, state: Path, *extra: str) -> ConsoleProc:
    store = open_state(state)
    for name, role in ROLES.items():
        store.add(name, role, PASSWORD[name])
    port = free_port()
    log = state.parent / f"{state.name}.log"
    handle = open(log, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "qcchain_cli.main", "console", "serve", "--dir", str(devnet),
                             "--org", org, "--state", str(state), "--port", str(port), *extra], stdout=handle, stderr=handle)
    url = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"console of {org} exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/login", verify=False, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        proc.terminate()
        raise RuntimeError(f"console of {org} did not answer: {log.read_text()[-2000:]}")
    secrets = [*PASSWORD.values(), (state / "session.key").read_text().strip(), (state / "keystore.pass").read_text().strip()]
    return ConsoleProc(org, url, state, log, proc, secrets)


@pytest.fixture(scope="session")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("console") / "net"
    done = qcchain("demo", "--dir", str(directory), "--keep")
    assert done.returncode == 0, done.stderr[-2000:]
    yield directory
    qcchain("devnet", "down", "--dir", str(directory))


@pytest.fixture(scope="session")
def ingest(devnet: Path) -> Iterator[IngestProc]:
    server = start_ingest(devnet)
    yield server
    server.proc.terminate()
    try:
        server.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.proc.kill()


@pytest.fixture(scope="session")
def consoles(devnet: Path, ingest: IngestProc) -> Iterator[dict[str, ConsoleProc]]:
    out = {}
    try:
        for org in ("Regulator", "Inspection"):
            extra = ("--ingest-url", ingest.url, "--ingest-key-file", str(ingest.key_file)) if org == "Regulator" else ()
            out[org] = start_console(devnet, org, devnet.parent / f"console-{org.lower()}", *extra)
        yield out
    finally:
        for c in out.values():
            c.proc.terminate()
            try:
                c.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                c.proc.kill()


@pytest.fixture(scope="session")
def seeded(devnet: Path, consoles: dict[str, ConsoleProc]) -> dict[str, Any]:
    """Risk data, a `<script>` payload, a fresh L3 item and a pending sharing request (after the consoles
    registered their keys, so the L3 item's data key is wrapped for the regulator console's key)."""
    return seed(devnet)


@pytest.fixture(scope="session")
def browser_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("headless Chromium needs Debian's chromium + chromium-driver (/usr/bin/chromium, "
                    "/usr/bin/chromedriver); scripts/test.sh installs them when it can")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    drivers = []

    def make() -> Any:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        profile = tmp_path_factory.mktemp("chromium-profile")
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                     f"--user-data-dir={profile}", "--window-size=1366,768", "--lang=zh-CN"):
            options.add_argument(flag)
        options.accept_insecure_certs = True
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        driver.set_page_load_timeout(60)
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        driver.quit()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = Path(os.environ.get("QCCHAIN_CONSOLE_SHOTS") or tmp_path_factory.mktemp("screenshots"))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def pytest_collection_modifyitems(items: list[Any]) -> None:
    """The freeze test changes the chain for everything after it: run it last."""
    items.sort(key=lambda item: "freeze" in item.name)

