"""Console features over HTTPS (no browser needed): a proposal opened below threshold from the Contracts page
and signed there by another org, the consortium's certificates and open warnings on the Overview, the Audit
timeline paged with bookmarks and each shown item re-verified; units for the certificate scan and the
timeline filters."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from qcchain_console.auditscan import Filters, resume_key
from qcchain_console.certscan import scan_crypto_dir

from .conftest import csrf_of


def _flash(html: str) -> str:
    match = re.search(r'id="flash"[^>]*>(.*?)<', html, re.S)
    return match.group(1) if match else ""


def test_open_a_proposal_below_threshold_then_another_org_signs_it(consoles, seeded):
    regulator = consoles["Regulator"].client("alice")
    token = csrf_of(regulator.get("/contracts").text)
    bad = regulator.post("/contracts/propose", data={"csrf": token, "operation": "upgrade", "contract": "records",
                                                     "reason": "x", "hours": "2"})
    assert bad.status_code == 303 and "refused: operation" in _flash(regulator.get("/contracts").text)
    answer = regulator.post("/contracts/propose", data={"csrf": token, "operation": "destroy", "contract": "records",
                                                        "reason": "console test: destroy needs three orgs", "hours": "2"})
    assert answer.status_code == 303
    page = regulator.get("/contracts").text
    assert "opened and signed by RegulatorMSP" in _flash(page), _flash(page)
    pid = re.search(r'id="sign-([0-9a-f]{12})"', consoles["Inspection"].client("alice").get("/contracts").text)
    assert pid is not None  # the Inspection console offers its own signature on the open proposal
    inspection = consoles["Inspection"].client("alice")
    html = inspection.get("/contracts").text
    full = re.search(r'action="/contracts/sign/([0-9a-f]{64})"', html).group(1)
    answer = inspection.post(f"/contracts/sign/{full}", data={"csrf": csrf_of(html)})
    assert answer.status_code == 303
    html = inspection.get("/contracts").text
    assert "signed by InspectionMSP" in _flash(html)
    assert f'id="sign-{full[:12]}"' not in html and f'id="execute-open-{full[:12]}"' not in html  # still under
    again = inspection.post(f"/contracts/sign/{full}", data={"csrf": csrf_of(html)})
    assert again.status_code == 303 and "already signed" in _flash(inspection.get("/contracts").text)
    viewer = consoles["Regulator"].client("vera")
    refused = viewer.post("/contracts/propose", data={"csrf": csrf_of(viewer.get("/contracts").text),
                                                      "operation": "freeze", "contract": "records", "reason": "viewer"})
    assert refused.status_code == 403
    log = regulator.get("/audit").text
    assert "open_proposal" in log and "sign_proposal" not in log  # each console logs its own staff's writes


def test_overview_lists_the_consortiums_certificates_and_open_warnings(consoles, seeded):
    html = consoles["Regulator"].client("vera").get("/").text
    for org in ("inspection", "maintenance", "manufacturer", "usingunit", "regulator"):
        assert f"{org}.qcchain.example CA" in html and f"{org}.qcchain.example TLS CA" in html
    assert "qcchain.example orderer" in html
    assert 'id="open-warnings"' in html and 'data-colour="red"' in html


def test_audit_timeline_pages_with_bookmarks_and_verifies_what_it_shows(consoles, seeded):
    client = consoles["Regulator"].client("vera")
    first = client.get("/audit").text
    assert 'class="card good" id="verification"' in first
    rows = first.split('id="timeline"')[1].split("</table>")[0].count("<tr>") - 1
    assert rows == 50  # the demo story + the seed write more than one page of events
    nxt = re.search(r'id="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = client.get(nxt).text
    assert 'id="first"' in second and 'class="card good" id="verification"' in second
    tx_first = set(re.findall(r'<td class="mono">([0-9a-f]{12})</td>', first.split('id="timeline"')[1].split("</table>")[0]))
    tx_second = set(re.findall(r'<td class="mono">([0-9a-f]{12})</td>', second.split('id="timeline"')[1].split("</table>")[0]))
    assert tx_second and not tx_first & tx_second
    bad = client.get("/audit?after=not-a-timeline-key").text
    assert "bookmark" in bad  # the chaincode's one-line refusal, shown on the page


def _cert(path: Path, cn: str, days: int) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days)).sign(key, hashes.SHA256()))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_certificate_scan_finds_each_kind_once_soonest_first(tmp_path):
    org = tmp_path / "peerOrganizations" / "a.example"
    _cert(org / "ca" / "ca.a.example-cert.pem", "ca.a", 3650)
    (org / "msp" / "cacerts").mkdir(parents=True)
    (org / "msp" / "cacerts" / "ca.pem").write_bytes((org / "ca" / "ca.a.example-cert.pem").read_bytes())  # same cert
    _cert(org / "tlsca" / "tlsca.a.example-cert.pem", "tlsca.a", 3650)
    _cert(org / "users" / "Admin@a.example" / "msp" / "signcerts" / "Admin@a.example-cert.pem", "Admin@a", 20)
    _cert(org / "users" / "User1@a.example" / "msp" / "signcerts" / "User1@a.example-cert.pem", "User1@a", 5)
    _cert(org / "peers" / "peer0.a.example" / "msp" / "signcerts" / "peer0-cert.pem", "peer0.a", 365)
    (org / "peers" / "peer0.a.example" / "tls").mkdir(parents=True)
    (org / "peers" / "peer0.a.example" / "tls" / "server.crt").write_bytes(b"not a certificate")
    found = scan_crypto_dir(tmp_path)
    assert [(c.kind, c.subject) for c in found] == [("admin", "CN=Admin@a"), ("peer", "CN=peer0.a"),
                                                   ("CA", "CN=ca.a"), ("TLS CA", "CN=tlsca.a")]
    assert scan_crypto_dir(tmp_path / "missing") == []


def test_timeline_filters_and_event_bookmarks():
    event = {"kind": "record", "actor_msp": "UsingUnitMSP", "at": 1700000000, "tx_id": "ab" * 32,
             "record_id": "HD-1", "version": 2, "bus_type": "U", "category": "hidden_danger", "grade": "L3"}
    assert Filters().match(event) and Filters(kind="record", org="UsingUnitMSP", text="hd-1").match(event)
    assert not Filters(kind="executed").match(event) and not Filters(org="RegulatorMSP").match(event)
    assert not Filters(text="EQ-9").match(event)
    assert resume_key(event) == "\x00qc.event\x00001700000000\x00" + event["tx_id"] + "\x00record\x00"
