"""The agent against a SQLite source and the ingestion double: full load, I/U/D detection, exactly-once
delivery through faults, quarantine, token refresh, receipts."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from agentfake import FakeIngest, Killed
from agentkit import Clock, agent_for, company, create_source, dept, execute, insert, mapping_doc, staff, write_mapping
from qcchain_agent.errors import StateError
from qcchain_agent.state import Store


@pytest.fixture()
def env(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/src.db"
    engine = sa.create_engine(url)
    create_source(engine)
    server = FakeIngest()
    path = write_mapping(tmp_path / "agent", mapping_doc(url), server)
    clock = Clock()
    agents = []

    def make():
        if agents:
            agents[-1].store.close()
        agents.append(agent_for(path, server, clock))
        return agents[-1]

    yield engine, server, make, clock
    agents[-1].store.close()
    engine.dispose()


def source_ids(engine) -> set[str]:
    with engine.connect() as conn:
        ids = {f"U-{r[0]}" for r in conn.execute(sa.text("SELECT code FROM company"))}
        ids |= {f"D-{r[0]}" for r in conn.execute(sa.text("SELECT dept_id FROM dept"))}
        ids |= {f"P-{r[0]}" for r in conn.execute(sa.text("SELECT emp_no FROM staff"))}
    return ids


def assert_exactly_once(server: FakeIngest) -> None:
    twice = [k for k, n in Counter(server.applied).items() if n > 1]
    assert not twice, f"records stored more than once: {twice[:5]}"


def test_full_load_then_insert_update_delete(env) -> None:
    engine, server, make, clock = env
    agent = make()
    report = agent.cycle()
    assert [s["inserted"] for s in report["scans"]] == [3, 4, 5]
    assert report["send"]["pending"] == 0 and report["send"]["acknowledged"] == 7
    assert set(server.current()) == source_ids(engine)
    rec = server.current()["U-C0001"]
    assert rec["comName"] == "江苏测试1有限公司" and rec["cityCode"] == "320100" and rec["busType"] == "I"
    assert server.current()["D-1"]["isSecDept"] == 1 and server.current()["D-2"]["isSecDept"] == 0

    # nothing changed: nothing sent
    posts = server.syndata_posts
    report = agent.cycle(force=True)
    assert all(s["unchanged"] == s["rows"] for s in report["scans"]) and server.syndata_posts == posts

    insert(engine, "company", [company(9)])
    execute(engine, "UPDATE company SET tel='13900000000' WHERE code='C0002'")
    execute(engine, "DELETE FROM staff WHERE emp_no=3")
    execute(engine, "UPDATE dept SET man=' 赵六 ' WHERE dept_id=4")
    clock.t += 60
    report = agent.cycle(force=True)
    by = {s["txcode"]: s for s in report["scans"]}
    assert (by["01"]["inserted"], by["01"]["updated"], by["02"]["updated"], by["03"]["deleted"]) == (1, 1, 1, 1)
    live = server.current()
    assert set(live) == source_ids(engine)
    assert live["U-C0002"]["linkTel"] == "13900000000" and live["U-C0002"]["busType"] == "U"
    assert live["D-4"]["dLinkMan"] == "赵六"
    assert server.batches[server.latest["P-3"][0]]["data"][0]["busType"] == "D"
    assert_exactly_once(server)


def test_batch_numbers_persist_across_restarts_and_days(env) -> None:
    engine, server, make, clock = env
    make().cycle()
    first = sorted(server.batches)
    assert first[0] == "2025031000000001" and first[-1] == "2025031000000007"
    insert(engine, "dept", [dept(10)])
    agent = make()  # a restarted agent continues the day's sequence
    agent.cycle(force=True)
    assert max(server.batches) == "2025031000000008"
    clock.t += 86400
    insert(engine, "dept", [dept(11)])
    make().cycle(force=True)
    assert max(server.batches) == "2025031100000001"


def test_update_cycles_decide_what_is_scanned(env) -> None:
    engine, server, make, clock = env
    agent = make()
    agent.cycle()
    insert(engine, "dept", [dept(12)])
    insert(engine, "company", [company(12)])
    clock.t += 31  # past the realtime interval of 02, far from the weekly cycle of 01
    report = agent.cycle()
    assert [s["txcode"] for s in report["scans"]] == ["02"]
    assert "U-C0012" not in server.current() and "D-12" in server.current()
    clock.t += 7 * 86400
    assert {s["txcode"] for s in agent.cycle()["scans"]} == {"01", "02", "03"}
    assert "U-C0012" in server.current()


@pytest.mark.parametrize("fault", ["drop", "500", "500-after", "timeout-after"])
def test_network_faults_deliver_exactly_once(env, fault: str) -> None:
    engine, server, make, clock = env
    agent = make()
    server.faults = [fault] * 10
    report = agent.cycle()
    if fault in ("drop", "500"):  # more failures than the client's 3 retries: the cycle ends with work pending
        assert report["send"]["pending"] > 0 and report["send"]["error"]
    else:  # stored, answer lost: the retry with the same batchNo gets the stored receipt
        assert report["send"]["acknowledged"] == 7 and len(server.batches) == 7
    server.faults = []
    report = agent.cycle()
    assert report["send"]["pending"] == 0
    assert set(server.current()) == source_ids(engine)
    assert_exactly_once(server)
    # acknowledged batches are never sent again
    posts = server.syndata_posts
    agent.cycle(force=True)
    assert server.syndata_posts == posts


def test_transient_fault_is_retried_within_the_cycle(env) -> None:
    engine, server, make, clock = env
    server.faults = ["500", "drop"]
    report = make().cycle()
    assert report["send"]["pending"] == 0 and report["send"]["error"] is None
    assert_exactly_once(server)


def test_agent_killed_after_the_server_stored_a_batch(env) -> None:
    engine, server, make, clock = env
    server.faults = [None, None, "kill-after"]
    with pytest.raises(Killed):
        make().cycle()
    stored_before = set(server.batches)
    agent = make()  # restart: the unacknowledged batch is looked up (status), not stored twice
    report = agent.cycle()
    assert report["send"]["pending"] == 0
    assert set(server.current()) == source_ids(engine)
    assert_exactly_once(server)
    assert stored_before <= set(server.batches)


def test_agent_killed_in_the_middle_of_a_scan(env, monkeypatch) -> None:
    engine, server, make, clock = env
    insert(engine, "staff", [staff(i) for i in range(6, 40)])
    agent = make()
    real = Store.enqueue
    calls = {"n": 0}

    def dying(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise Killed()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Store, "enqueue", dying)
    with pytest.raises(Killed):
        agent.cycle()
    monkeypatch.setattr(Store, "enqueue", real)
    agent = make()
    agent.cycle()
    assert agent.store.pending() == []
    assert set(server.current()) == source_ids(engine)
    assert_exactly_once(server)


def test_bad_rows_are_quarantined_and_the_rest_goes_on(env) -> None:
    engine, server, make, clock = env
    insert(engine, "staff", [staff(50, idno="12345"), staff(51, auth_dt="08.07.2024")])
    insert(engine, "company", [company(50, city="火星")])
    agent = make()
    report = agent.cycle()
    by = {s["txcode"]: s for s in report["scans"]}
    assert by["03"]["quarantined"] == 2 and by["01"]["quarantined"] == 1
    assert "P-50" not in server.current() and "P-1" in server.current() and "U-C0050" not in server.current()
    reasons = {q["id"]: q for q in agent.store.list_quarantine()}
    assert "idCardNo" in reasons["P-50"]["reason"] and reasons["P-50"]["source_key"] == "query:emp_no=50"
    assert reasons["P-51"]["reason"].startswith("authDate:")
    assert reasons["U-C0050"]["reason"] == "cityCode: source code not in the code table"
    assert "火星" not in json.dumps(agent.store.list_quarantine(), ensure_ascii=False)
    # reported once, not again on every cycle; fixed at the source -> sent
    assert sum(s["quarantined"] for s in agent.cycle(force=True)["scans"]) == 0
    execute(engine, "UPDATE staff SET idno='32010019900000050X' WHERE emp_no=50")
    agent.cycle(force=True)
    assert server.current()["P-50"]["busType"] == "I"
    assert "P-50" not in {q["id"] for q in agent.store.list_quarantine()}


def test_server_refusal_quarantines_the_batch_and_requeues_the_rest(env) -> None:
    engine, server, make, clock = env
    execute(engine, "UPDATE company SET name='REFUSE me' WHERE code='C0001'")
    agent = make()
    report = agent.cycle()
    assert report["send"]["quarantined"] == ["2025031000000001"]
    requeued = report["send"]["requeued"]
    assert len(requeued) == 1
    live = server.current()
    assert "U-C0001" not in live and "U-C0002" in live and live["U-C0002"]["batchNo"] == requeued[0]
    batch = agent.store.batch("2025031000000001")
    assert batch.state == "quarantined" and batch.violations[0]["index"] == 0
    assert any(q["origin"] == "server" and q["id"] == "U-C0001" for q in agent.store.list_quarantine())
    assert agent.status()["quarantined_rows"] == 1
    # not resent while unchanged; sent as an insert once fixed
    posts = server.syndata_posts
    clock.t += 7 * 86400
    agent.cycle()
    assert server.syndata_posts == posts
    execute(engine, "UPDATE company SET name='改好了有限公司' WHERE code='C0001'")
    agent.cycle(force=True)
    assert server.current()["U-C0001"]["busType"] == "I"
    assert_exactly_once(server)


def test_expired_token_is_refreshed(env) -> None:
    engine, server, make, clock = env
    agent = make()
    agent.cycle()
    server.revoke_tokens()
    insert(engine, "dept", [dept(20)])
    report = agent.cycle(force=True)
    assert report["send"]["pending"] == 0 and "D-20" in server.current()


def test_receipt_that_does_not_verify_is_not_an_acknowledgement(env) -> None:
    engine, server, make, clock = env
    from qcchain_core.gm import SM2PrivateKey
    server.key = SM2PrivateKey.generate()  # receipts signed by a key the agent does not trust
    report = make().cycle()
    assert report["send"]["acknowledged"] == 0 and "another key" in report["send"]["error"]
    assert report["send"]["pending"] == 7


def test_dedup_of_duplicate_source_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/src.db"
    engine = sa.create_engine(url)
    create_source(engine, companies=0, depts=0, staffs=0)
    execute(engine, "CREATE TABLE staff2 AS SELECT * FROM staff")
    insert(engine, "staff2", [staff(1), staff(1), staff(2), staff(2, name="别人")])
    server = FakeIngest()
    doc = mapping_doc(url)
    doc["txcodes"] = {"03": {**doc["txcodes"]["03"], "query": "SELECT * FROM staff2"}}
    agent = agent_for(write_mapping(tmp_path / "a", doc, server), server)
    try:
        scan = agent.cycle()["scans"][0]
    finally:
        agent.store.close()
    assert scan["duplicates"] == 2 and scan["quarantined"] == 1 and scan["inserted"] == 2
    assert_exactly_once(server)


def test_requeued_remainder_keeps_its_place_across_a_crash(env) -> None:
    engine, server, make, clock = env
    agent = make()
    agent.cycle()
    execute(engine, "UPDATE company SET name='REFUSE me' WHERE code='C0001'")
    execute(engine, "UPDATE company SET addr='第一次改' WHERE code='C0002'")
    first = agent.scan("01")["batches"]          # [C0001 refused by the server, C0002 first change]
    execute(engine, "UPDATE company SET addr='第二次改' WHERE code='C0002'")
    later = agent.scan("01")["batches"]          # C0002 second change, queued after
    assert len(first) == 1 and len(later) == 1 and agent.store.pending() == first + later
    server.faults = [None, "kill"]               # refusal, then the agent dies sending the remainder
    with pytest.raises(Killed):
        agent.send()
    agent = make()                               # restart
    remainder = [b for b in agent.store.pending() if b not in later]
    assert len(remainder) == 1 and remainder[0] > later[0]        # a newer batchNo...
    assert agent.store.pending() == remainder + later             # ...sent in the refused batch's place
    assert agent.send()["pending"] == 0
    assert server.current()["U-C0002"]["address"] == "第二次改"     # the later change is the one that stays
    assert server.current()["U-C0002"]["batchNo"] == later[0]
    assert_exactly_once(server)


def test_second_agent_on_the_same_state_is_refused(env) -> None:
    engine, server, make, clock = env
    agent = make()
    with pytest.raises(StateError, match="in use by another agent"):
        Store(agent.store.dir)
