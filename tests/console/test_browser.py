"""The console in a real headless Chromium (Selenium): log in, every page with the demo story's data,
approve a sharing request in the UI and see the grant on chain, filter the risk map, export the audit
report, freeze a contract through an uploaded signed proposal and see writes refused. A screenshot of
each page goes to the test's screenshot directory."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from qcchain_core.gm import SM2PrivateKey
from qcchain_gateway.profile import connect_profile
from qcchain_sdk.contracts.governance import GovernanceClient
from qcchain_sdk.contracts.sharing import SharingClient
from qcchain_sdk.contracts.story import EQ, IR
from qcchain_sdk.proposals import proposalfile
from qcchain_sdk.actions import submit_record

from .conftest import PASSWORD
from .seed import PERSON, SECRET_PROBLEM, XSS, risk_payload

pytestmark = pytest.mark.slow

PAGES = {"overview": "/", "contracts": "/contracts", "records": "/records?index=equipment&value=32010001",
         "record": f"/records/{EQ}", "sharing": f"/sharing?record={IR}", "riskmap": "/riskmap",
         "ingestion": "/ingestion", "audit": "/audit", "report": "/audit/report"}


def by(kind: str) -> Any:
    from selenium.webdriver.common.by import By

    return getattr(By, kind)


def wait(driver: Any, css: str, timeout: float = 30) -> Any:
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(ec.presence_of_element_located((by("CSS_SELECTOR"), css)))


def login(driver: Any, url: str, user: str) -> None:
    driver.get(url + "/audit")  # any page: unauthenticated -> login
    assert driver.current_url.endswith("/login")
    driver.find_element(by("ID"), "username").send_keys(user)
    driver.find_element(by("ID"), "password").send_keys(PASSWORD[user])
    driver.find_element(by("ID"), "login").click()
    wait(driver, "#logout")


def accept_confirm(driver: Any) -> None:
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 10).until(ec.alert_is_present()).accept()


def shot(driver: Any, shots: Path, name: str) -> None:
    path = shots / f"{name}.png"
    assert driver.save_screenshot(str(path)) and path.stat().st_size > 1000


def test_every_page_as_the_regulator(consoles, seeded, browser_factory, shots):
    driver = browser_factory()
    login(driver, consoles["Regulator"].url, "alice")
    assert driver.execute_script("return [window.innerWidth, document.documentElement.scrollWidth]")[0] <= 1366
    for name, path in PAGES.items():
        driver.get(consoles["Regulator"].url + path)
        wait(driver, "body")
        assert not driver.find_elements(by("ID"), "error"), f"{name}: {driver.find_element(by('ID'), 'error').text}"
        shot(driver, shots, f"regulator-{name}")
        # no horizontal scrolling at 1366x768 except inside the cards' own scroll areas
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 1366, name
    driver.get(consoles["Regulator"].url + "/")
    assert "qcchannel" in driver.find_element(by("TAG_NAME"), "main").text
    driver.get(consoles["Regulator"].url + "/contracts")
    states = {r.get_attribute("data-unit"): r.find_element(by("CSS_SELECTOR"), ".state").text
              for r in driver.find_elements(by("CSS_SELECTOR"), "#units tr[data-unit]")}
    assert states == {"qcchain": "active", "records": "active", "scratch": "destroyed"}
    driver.get(consoles["Regulator"].url + PAGES["records"])
    ids = {a.text for a in driver.find_elements(by("CSS_SELECTOR"), "#results a")}
    assert {EQ, IR, "HD-32010001-1", seeded["hd"]} <= ids
    driver.get(consoles["Regulator"].url + f"/records/{EQ}")
    assert "✔" in driver.find_element(by("ID"), "badge").text
    assert len(driver.find_elements(by("CSS_SELECTOR"), "#history tr")) == 1 + 3  # header + v1..v3 (I, U, U)
    driver.get(consoles["Regulator"].url + "/audit")
    assert "✘" not in driver.page_source and "SM2" in driver.find_element(by("ID"), "verification").text
    assert "good" in driver.find_element(by("ID"), "verification").get_attribute("class")


@pytest.mark.parametrize("width,height", [(1024, 768), (768, 1024)])
def test_tablet_sizes_every_page_fits_without_sideways_scrolling(consoles, seeded, browser_factory, shots, width,
                                                                 height):
    driver = browser_factory()
    driver.set_window_size(width, height)
    login(driver, consoles["Regulator"].url, "alice")
    for name, path in PAGES.items():
        driver.get(consoles["Regulator"].url + path)
        wait(driver, "body")
        inner, scroll = driver.execute_script("return [window.innerWidth, document.documentElement.scrollWidth]")
        assert inner <= width and scroll <= inner, f"{name} at {width}x{height}: page {scroll}px wide in {inner}px"
        if name == "report":  # the print-ready report has no navigation
            continue
        nav = driver.find_element(by("TAG_NAME"), "nav")
        assert nav.is_displayed() and nav.rect["x"] + nav.rect["width"] <= inner, f"{name}: navigation cut off"
        shot(driver, shots, f"tablet-{width}x{height}-{name}")


def test_l3_decrypted_for_the_entitled_org_only_and_personal_fields_masked(consoles, seeded, browser_factory, shots):
    driver = browser_factory()
    login(driver, consoles["Regulator"].url, "vera")
    driver.get(consoles["Regulator"].url + f"/records/{seeded['hd']}")
    wait(driver, "#decrypted")
    text = driver.find_element(by("ID"), "payload").text
    assert SECRET_PROBLEM in text and PERSON not in driver.page_source and driver.find_elements(by("ID"), "masked")
    shot(driver, shots, "regulator-record-l3")
    other = browser_factory()
    login(other, consoles["Inspection"].url, "vera")
    other.get(consoles["Inspection"].url + f"/records/{seeded['hd']}")
    wait(other, "#encrypted")
    assert SECRET_PROBLEM not in other.page_source and not other.find_elements(by("ID"), "payload")
    shot(other, shots, "inspection-record-l3")


def test_risk_map_four_colours_and_filter(consoles, seeded, browser_factory, shots):
    from selenium.webdriver.support.ui import Select

    driver = browser_factory()
    login(driver, consoles["Regulator"].url, "vera")
    driver.get(consoles["Regulator"].url + "/riskmap")
    counts = {c: int(driver.find_element(by("ID"), f"count-{c}").text) for c in ("red", "orange", "yellow", "blue")}
    assert counts == {"red": 1, "orange": 1, "yellow": 2, "blue": 1}
    cells = driver.find_elements(by("CSS_SELECTOR"), "#riskmap rect.point")
    colours = {c.get_attribute("data-colour") for c in cells}
    assert len(cells) == 5 and colours == {"red", "orange", "yellow", "blue"}
    fills = {driver.execute_script("return getComputedStyle(arguments[0]).fill", c) for c in cells}
    assert len(fills) == 4  # four distinct colours actually painted
    # the <script> risk name is shown as text, never run
    assert XSS in driver.find_element(by("ID"), "points").text
    assert driver.execute_script("return window.__xss") is None
    assert driver.find_elements(by("CSS_SELECTOR"), "#dangers tr.overdue")
    shot(driver, shots, "riskmap-all")
    Select(driver.find_element(by("ID"), "city")).select_by_visible_text("3205")
    for _ in range(100):
        if "city=3205" in driver.current_url:
            break
        time.sleep(0.1)
    wait(driver, "#count-blue")
    counts = {c: int(driver.find_element(by("ID"), f"count-{c}").text) for c in ("red", "orange", "yellow", "blue")}
    assert counts == {"red": 0, "orange": 0, "yellow": 1, "blue": 1}
    assert "Nanjing" not in driver.find_element(by("ID"), "riskmap").text
    shot(driver, shots, "riskmap-city-3205")


def test_approve_a_request_in_the_ui_writes_the_grant_on_chain(devnet, consoles, seeded, browser_factory, shots):
    gid = seeded["grant_id"]
    console = consoles["Inspection"]
    driver = browser_factory()
    login(driver, console.url, "otto")
    driver.get(console.url + "/sharing")
    row = wait(driver, f'#requests tr[data-grant="{gid}"]')
    shot(driver, shots, "inspection-sharing-request")
    row.find_element(by("ID"), f"approve-{gid}").click()
    accept_confirm(driver)
    flash = wait(driver, "#flash")
    assert "approved" in flash.text and "ok" in flash.get_attribute("class"), flash.text
    assert driver.find_elements(by("CSS_SELECTOR"), f'#given tr[data-grant="{gid}"]')
    shot(driver, shots, "inspection-sharing-approved")
    with connect_profile(seeded["profiles"]["UsingUnit"]) as gateway:
        contract = gateway.get_network("qcchannel").get_contract("qcchain")
        grant = SharingClient.with_key(contract, seeded["keys"]["UsingUnit"]).get(gid)
    assert grant["status"] == "approved" and grant["decided_by"] == "InspectionMSP"
    driver.get(console.url + "/audit")
    log_text = driver.find_element(by("ID"), "console-log").text
    assert "otto" in log_text and "sharing_approve" in log_text and gid in log_text


def test_audit_report_and_csv_export(consoles, seeded, browser_factory, shots):
    console = consoles["Regulator"]
    driver = browser_factory()
    login(driver, console.url, "alice")
    driver.get(console.url + "/audit?kind=executed")
    rows = driver.find_elements(by("CSS_SELECTOR"), "#timeline tr")[1:]
    assert rows and all("executed" in r.text for r in rows)
    driver.find_element(by("ID"), "report").click()
    wait(driver, "#print")
    assert "executed" in driver.find_element(by("ID"), "timeline").text
    assert "good" in driver.find_element(by("ID"), "verification").get_attribute("class")
    shot(driver, shots, "audit-report")
    pdf = driver.print_page()  # the print-ready report prints (base64 PDF from Chromium)
    assert len(pdf) > 1000
    client = console.client("alice")
    csv = client.get("/audit/export.csv?kind=executed")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("block,") and len(lines) == 1 + len(rows)


def test_ingestion_page_batches_refusals_overdue_and_appid_issue_then_revoke(consoles, seeded, ingest, browser_factory,
                                                                            shots):
    from qcchain_bench.ingestdata import credit_code

    console = consoles["Regulator"]
    driver = browser_factory()
    login(driver, console.url, "alice")
    driver.get(console.url + "/ingestion")
    unit = wait(driver, f'#units tr[data-appid="{ingest.appid}"][data-txcode="02"]')
    assert "控制台测试单位" in unit.text and " 1 " in f" {unit.text} "  # one batch of table 02
    batch = driver.find_element(by("CSS_SELECTOR"), f'#batches tr[data-batch="{ingest.accepted}"]')
    assert batch.find_elements(by("CSS_SELECTOR"), ".chain-ok"), batch.text  # its header is on chain, same root
    refused = driver.find_element(by("CSS_SELECTOR"), f'#refusals tr[data-batch="{ingest.refused}"]')
    assert ingest.refused_field in refused.text and ingest.appid in refused.text and "0" * 60 not in driver.page_source
    late = driver.find_elements(by("CSS_SELECTOR"), f'#overdue tr.overdue[data-appid="{ingest.appid}"]')
    assert {r.get_attribute("data-txcode") for r in late} == {"01", "03", "04", "05", "06", "07", "08", "09"}
    on_chain = driver.find_element(by("CSS_SELECTOR"), f'#credentials tr[data-appid="{ingest.appid}"] .on-chain').text
    assert on_chain == "1 / 3"  # ingest:summary on chain: the one anchored batch, its three records
    shot(driver, shots, "regulator-ingestion")
    # issue an appid from the page: the secret is shown once and works at the ingestion server
    driver.find_element(by("ID"), "issue-org-no").send_keys(credit_code(2026))
    driver.find_element(by("ID"), "issue-name").send_keys("浏览器签发单位")
    driver.find_element(by("ID"), "issue").click()
    appid = wait(driver, "#issued-appid").text
    secret = driver.find_element(by("ID"), "issued-secret").text
    shot(driver, shots, "regulator-ingestion-issued")
    with ingest.client() as http:
        assert http.get("/token", params={"appid": appid, "secret": secret}).json()["rescode"] == "1"
    driver.get(console.url + "/ingestion")
    assert secret not in driver.page_source  # shown once
    driver.find_element(by("ID"), f"revoke-{appid}").click()
    accept_confirm(driver)
    assert "revoked" in wait(driver, "#flash").text
    row = driver.find_element(by("CSS_SELECTOR"), f'#credentials tr[data-appid="{appid}"]')
    assert "revoked" in row.text and not row.find_elements(by("ID"), f"revoke-{appid}")
    shot(driver, shots, "regulator-ingestion-revoked")
    with ingest.client() as http:
        assert http.get("/token", params={"appid": appid, "secret": secret}).json()["rescode"] == "0"
    driver.get(console.url + "/audit")
    log_text = driver.find_element(by("ID"), "console-log").text
    assert "appid_issue" in log_text and "appid_revoke" in log_text and appid in log_text and secret not in log_text
    # a viewer sees the page but gets no issue form and no revoke buttons
    viewer = browser_factory()
    login(viewer, console.url, "vera")
    viewer.get(console.url + "/ingestion")
    wait(viewer, "#credentials")
    assert not viewer.find_elements(by("ID"), "issue-form") and not viewer.find_elements(by("CSS_SELECTOR"), "[id^=revoke-]")


def test_freeze_through_an_uploaded_signed_proposal_then_writes_refused(devnet, consoles, seeded, browser_factory,
                                                                       shots, tmp_path):
    console = consoles["Regulator"]
    key = SM2PrivateKey.generate()
    now = int(time.time())
    profiles = seeded["profiles"]
    with connect_profile(profiles["Regulator"]) as gateway:
        net = gateway.get_network("qcchannel")
        GovernanceClient(net.get_contract("qcchain", "governance"), net.get_contract("qcchain", "keys"),
                         gateway.identity.msp_id, gateway.identity.cert_pem, key).register_key(now - 60, now + 86400)
    proposal = proposalfile.new_proposal("freeze", "qcchannel", "qcchain", contract="records",
                                         reason="console test freeze", expiry=now + 3600)
    proposalfile.sign(proposal, key, now)
    path = proposalfile.save(proposal, tmp_path / "freeze.json")
    driver = browser_factory()
    login(driver, console.url, "alice")
    driver.get(console.url + "/contracts")
    driver.find_element(by("ID"), "proposal-file").send_keys(str(path))
    driver.find_element(by("ID"), "upload").click()
    assert "uploaded" in wait(driver, "#flash").text
    shot(driver, shots, "contracts-uploaded")
    driver.find_element(by("ID"), f"execute-{proposal.proposal_id[:12]}").click()
    accept_confirm(driver)
    flash = wait(driver, "#flash")
    assert "executed" in flash.text, flash.text
    state = driver.find_element(by("CSS_SELECTOR"), '#units tr[data-unit="records"] .state').text
    assert state == "frozen"
    shot(driver, shots, "contracts-frozen")
    with connect_profile(profiles["UsingUnit"]) as gateway:
        contract = gateway.get_network("qcchannel").get_contract("qcchain")
        with pytest.raises(Exception) as refused:
            submit_record(contract, seeded["keys"]["UsingUnit"], payload=risk_payload("RP-X", "risk_point", "一般风险", "x", "32010001"),
                          original=None, record_id="RP-X",
                          category="risk_point", equipment_code="32010001", stage="use", grade="L3")
    assert "frozen" in json.dumps(str(refused.value) + " ".join(str(d) for d in getattr(refused.value, "details", [])))
