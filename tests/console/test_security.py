"""Security of the console over HTTPS: every page and API path needs a login, every POST a CSRF token, a
viewer cannot write, cookies are Secure/HttpOnly/SameSite, a strict CSP is sent, and the server log holds
no password, session secret, keystore password, CSRF token or personal field."""

from __future__ import annotations

import pytest

from .conftest import csrf_of
from .seed import PERSON, SECRET_PROBLEM

pytestmark = pytest.mark.slow

GETS = ["/", "/contracts", "/records", "/records/EQ-32010001", "/sharing", "/riskmap", "/ingestion", "/audit",
        "/audit/report", "/audit/export.csv", "/api/anything", "/no-such-page"]
POSTS = ["/logout", "/contracts/upload", "/contracts/execute/" + "0" * 64, "/sharing/approve/g-x", "/sharing/revoke/g-x",
         "/ingestion/credentials/issue", "/ingestion/credentials/qc0123/revoke"]


def test_unauthenticated_requests_go_to_login(consoles):
    client = consoles["Inspection"].client()
    for path in GETS:
        answer = client.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == "/login", path
    for path in POSTS:
        answer = client.post(path, data={})
        assert answer.status_code == 303 and answer.headers["location"] == "/login", path


def test_session_cookie_and_headers(consoles):
    client = consoles["Inspection"].client()
    page = client.get("/login")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
    cookie = page.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert "http://" not in page.text and "https://" not in page.text.replace(consoles["Inspection"].url, "")


def test_post_without_csrf_is_refused(consoles):
    client = consoles["Inspection"].client()
    assert client.post("/login", data={"username": "alice", "password": "Alice-admin-42"}).status_code == 403
    client = consoles["Inspection"].client("alice")
    for path in POSTS[1:]:
        answer = client.post(path, data={"reason": "x"})
        assert answer.status_code == 403 and "CSRF" in answer.text, path
        answer = client.post(path, data={"reason": "x", "csrf": "forged"})
        assert answer.status_code == 403, path


def test_viewer_and_auditor_cannot_write(consoles, seeded):
    client = consoles["Inspection"].client("vera")
    token = csrf_of(client.get("/sharing").text)
    assert "approve-" not in client.get("/sharing").text  # no write buttons for a viewer
    for path in ("/sharing/approve/" + seeded["grant_id"], "/sharing/reject/" + seeded["grant_id"]):
        answer = client.post(path, data={"csrf": token})
        assert answer.status_code == 403 and "role" in answer.text
    answer = client.post("/contracts/upload", data={"csrf": token}, files={"proposal": ("p.json", b"{}")})
    assert answer.status_code == 403
    operator = consoles["Regulator"].client("otto")  # appid credentials are the org admin's
    token = csrf_of(operator.get("/ingestion").text)
    for path in ("/ingestion/credentials/issue", "/ingestion/credentials/qc0123/revoke"):
        answer = operator.post(path, data={"csrf": token, "org_no": "91320100MA0000001X", "name": "x"})
        assert answer.status_code == 403 and "role" in answer.text


def test_login_lockout_over_http(consoles):
    client = consoles["Inspection"].client()
    token = csrf_of(client.get("/login").text)
    for _ in range(5):
        answer = client.post("/login", data={"username": "otto", "password": "Wrong-pass-0", "csrf": token})
        assert answer.status_code == 401
    answer = client.post("/login", data={"username": "otto", "password": "Otto-operator-42", "csrf": token})
    assert answer.status_code == 401 and "locked" in answer.text
    from qcchain_console.server import open_state

    open_state(consoles["Inspection"].state).reset("otto", "Otto-operator-42")


def test_no_secret_or_personal_field_in_the_server_log(consoles, seeded, ingest):
    for console in consoles.values():
        client = console.client("alice")
        client.get(f"/records/{seeded['hd']}")
        client.get("/riskmap")
        token = csrf_of(client.get("/").text)
        text = console.log.read_text(encoding="utf-8", errors="replace")
        assert "GET /riskmap" in text  # the log is the server's
        for needle in [*console.secrets, *ingest.secrets, token, PERSON, SECRET_PROBLEM, "PRIVATE KEY"]:
            assert needle not in text, f"{console.org} server log contains a secret or personal field"
    text = ingest.log.read_text(encoding="utf-8", errors="replace")  # the ingestion server's, admin API included
    for needle in [*ingest.secrets, "0" * 60, "PRIVATE KEY"]:
        assert needle not in text, "the ingestion server's log contains a secret or a refused value"
