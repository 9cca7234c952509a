"""Finding 11: no unbounded partial-key scan — a list over more than MAX_LIST entries refuses clearly (413) and
the audit lists are read page by page (every page call takes a size limit of at most MAX_PAGE)."""

from __future__ import annotations

import pytest

from qcchain_contracts.common import MAX_LIST, MAX_PAGE
from qcchain_core.canonical import canonical_json

from govkit import GovKit
from seckit import full_kit

RECORD = {"record_id": "r-hd", "category": "hidden_danger", "equipment_code": "EQ1", "stage": "use",
          "owner_msp": "UsingUnitMSP", "grade": "L3", "digest": "a" * 64, "version": 1, "deleted": False,
          "placement": "private_encrypted"}


@pytest.fixture(scope="module")
def kit() -> GovKit:
    k = full_kit()
    state = k.stub.state[""]
    state[k.stub.create_composite_key("rec", ["r-hd"])] = canonical_json(RECORD)
    for i in range(MAX_LIST + 1):
        entry = {"tx_id": f"tx{i:05d}", "at": k.now + i, "reader_msp": "RegulatorMSP", "reader_id": "x",
                 "record_id": "r-hd", "owner_msp": "UsingUnitMSP", "grade": "L3", "purpose": "audit",
                 "basis": "supervisory", "grant_id": None}
        state[k.stub.create_composite_key("shr.access", ["r-hd", f"{entry['at']:012d}", entry["tx_id"]])] = canonical_json(entry)
        state[k.stub.create_composite_key("shr.by_grantee", ["MaintenanceMSP", f"g{i:05d}"])] = b'{"grant_id":"x"}'
    return k


def test_an_oversized_list_refuses_instead_of_scanning_everything(kit: GovKit) -> None:
    for fn, args, org in (("audit:access_log", ["r-hd"], "UsingUnit"), ("sharing:access_log", ["r-hd"], "UsingUnit"),
                          ("sharing:list_grants", [""], "Maintenance")):
        response = kit.call(fn, args, org=org)
        assert response.status == 413 and f"more than {MAX_LIST}" in response.message and "\n" not in response.message


def test_the_access_log_is_read_page_by_page(kit: GovKit) -> None:
    seen, bookmark, pages = [], "", 0
    while True:
        page = kit.ok("audit:access_log_page", ["r-hd", str(MAX_PAGE), bookmark], org="UsingUnit")
        assert len(page["entries"]) <= MAX_PAGE
        seen += [e["tx_id"] for e in page["entries"]]
        bookmark, pages = page["bookmark"], pages + 1
        if not bookmark:
            break
    assert seen == [f"tx{i:05d}" for i in range(MAX_LIST + 1)] and pages == -(-(MAX_LIST + 1) // MAX_PAGE)


@pytest.mark.parametrize("size", ["0", str(MAX_PAGE + 1), "-5", "true"])
def test_every_page_call_has_a_size_limit(kit: GovKit, size: str) -> None:
    kit.fails("audit:access_log_page", ["r-hd", size, ""], "page_size" if size != "true" else "", org="UsingUnit")
    kit.fails("audit:lifecycle_log_page", [size, ""], "page_size" if size != "true" else "", org="UsingUnit")


def test_a_foreign_bookmark_is_refused(kit: GovKit) -> None:
    foreign = kit.stub.create_composite_key("gov.member", ["RegulatorMSP"])
    kit.fails("audit:access_log_page", ["r-hd", "10", foreign], "bookmark", org="UsingUnit")
    kit.fails("audit:timeline_page", ["0", "99", "10", foreign], "bookmark", org="UsingUnit")


def test_the_timeline_pages_start_at_from_time() -> None:
    kit = full_kit()  # bootstrap and key registrations made events at T0+1 ...
    events = kit.ok("audit:timeline", ["0", str(kit.now + 10)])
    middle = events[len(events) // 2]["at"]
    got, bookmark = [], ""
    while True:
        page = kit.ok("audit:timeline_page", [str(middle), str(kit.now + 10), "2", bookmark])
        got += page["events"]
        bookmark = page["bookmark"]
        if not bookmark:
            break
    assert got == [e for e in events if e["at"] >= middle]
    assert kit.ok("audit:timeline_page", ["0", str(middle), "100", ""])["events"] == [e for e in events if e["at"] < middle]
