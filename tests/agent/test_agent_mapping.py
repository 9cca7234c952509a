"""Mapping file: every problem at once, one line each naming its mapping path; transforms."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from agentkit import mapping_doc
from qcchain_agent.errors import MappingError, RowError
from qcchain_agent.mapping import load_mapping, parse_mapping
from qcchain_agent.scan import _canonical
from qcchain_agent.transform import Transformer
from qcchain_core.canonical import canonical_json
from qcchain_core.gm import sm3

URL = "sqlite:///src.db"


def parse(doc):
    return parse_mapping(doc, Path("/tmp/m/mapping.yaml"))


def test_valid_mapping_parses_with_documented_defaults() -> None:
    m = parse(mapping_doc(URL))
    assert list(m.txcodes) == ["01", "02", "03"]
    assert (m.txcodes["01"].cycle, m.txcodes["01"].interval) == ("weekly", 7 * 86400)
    assert (m.txcodes["02"].cycle, m.txcodes["02"].interval) == ("realtime", 30)
    assert m.state_dir == Path("/tmp/m/state") and m.server.receipt_key == Path("/tmp/m/org.pem")
    assert m.txcodes["03"].id_columns == ("emp_no",) and m.txcodes["03"].dedup == "identical"


def test_every_problem_is_reported_at_once() -> None:
    doc = mapping_doc(URL)
    doc["batch_size"] = 0
    doc["source"]["url"] = "postgresql://postgres:hunter2@127.0.0.1/test"
    doc["server"]["bogus"] = 1
    doc["txcodes"]["01"]["fields"]["comNmae"] = {"column": "name"}
    doc["txcodes"]["02"]["fields"]["isSecDept"]["codes"] = "nosuch"
    del doc["txcodes"]["03"]["fields"]["psnName"]
    doc["txcodes"]["03"]["interval"] = 5
    doc["txcodes"]["03"]["cycle"] = "daily"
    with pytest.raises(MappingError) as err:
        parse(doc)
    # the JSON Schema stage stops before the semantic one: fix the schema problems, then see the rest
    assert err.value.problems == ["batch_size: 0 is less than the minimum of 1", "server: unknown key(s) bogus"]
    doc["batch_size"] = 10
    del doc["server"]["bogus"]
    with pytest.raises(MappingError) as err:
        parse(doc)
    problems = err.value.problems
    assert sorted(problems) == [
        "source.url: put the password in password_env or password_file, not in the URL",
        "txcodes.01.fields.comNmae: no field comNmae in D-A table unit (txCode 01)",
        "txcodes.02.fields.isSecDept.codes: no code table 'nosuch' under code_tables",
        "txcodes.03.fields: required D-A field(s) not mapped: psnName",
        "txcodes.03.interval: only a realtime cycle has an interval (cycle is daily)",
    ] and "hunter2" not in str(err.value)


def test_schema_level_problems_name_their_path() -> None:
    doc = mapping_doc(URL)
    doc["txcodes"]["10"] = copy.deepcopy(doc["txcodes"]["01"])
    doc["txcodes"]["01"]["query"] = "SELECT 1"
    doc["txcodes"]["02"]["fields"]["dLinkMan"] = {"column": "man", "value": "x"}
    doc["txcodes"]["03"]["cycle"] = "hourly"
    with pytest.raises(MappingError) as err:
        parse(doc)
    text = "\n".join(err.value.problems)
    assert "txcodes.01: give exactly one of 'table' or 'query'" in text
    assert "txcodes.02.fields.dLinkMan: give exactly one of 'column' or 'value'" in text
    assert "txcodes.03.cycle: 'hourly' is not one of ['realtime', 'daily', 'weekly']" in text
    assert "txcodes: '10' is not one of ['01', '02'," in text


def test_unreadable_and_non_yaml_files(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot read the mapping file"):
        load_mapping(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: [1\n", encoding="utf-8")
    with pytest.raises(MappingError, match=r"not valid YAML at line 2"):
        load_mapping(bad)
    text = tmp_path / "ok.yaml"
    text.write_text(yaml.safe_dump(mapping_doc(URL), allow_unicode=True), encoding="utf-8")
    assert load_mapping(text).server.appid == "APP1"


def test_transforms() -> None:
    m = parse(mapping_doc(URL))
    people = Transformer(m.txcodes["03"])
    rec = people.record({"emp_no": Decimal("7"), "name": "  王 ", "idno": "32010019900000007X", "dept": "管理部",
                         "chief": "Y", "mgr": True, "opr": Decimal("1"), "res": "0", "kind": "电梯作业",
                         "cert": 123, "auth_dt": "2024/07/08", "end_dt": dt.datetime(2028, 7, 7, 12), "com": "局"})
    assert rec == {"ID": "P-7", "txCode": "03", "psnName": "王", "idCardNo": "32010019900000007X", "deptName": "管理部",
                   "isSecChief": 1, "isSecManager": 1, "isOpr": 1, "isRes": 0, "lcnsKind": "电梯作业", "certNo": "123",
                   "authDate": "2024-07-08", "endDate": "2028-07-07", "authCom": "局"}
    with pytest.raises(RowError, match="authDate: date in none of the formats %Y/%m/%d"):
        people.record({"emp_no": 1, "auth_dt": "08.07.2024"})
    with pytest.raises(RowError, match="isSecChief: source code not in the code table"):
        people.record({"emp_no": 1, "chief": "maybe"})
    with pytest.raises(RowError, match="ID: source key column emp_no is empty"):
        people.record({"emp_no": None})
    units = Transformer(m.txcodes["01"])
    rec = units.record({"code": "C1", "credit": "91320100ma1xyw1234", "district": "   ", "city": "苏州"})
    assert rec["orgNo"] == "91320100MA1XYW1234" and rec["aeraCode"] == "未知" and rec["cityCode"] == "320500"
    assert "comName" not in rec  # missing and no default: the schema check reports it


def test_media_field(tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "制度.pdf").write_bytes(b"%PDF-1.4 rules")
    doc = mapping_doc(URL)
    doc["source"]["media_root"] = str(tmp_path / "files")
    doc["txcodes"] = {"04": {"table": "rules", "id": "rid", "fields": {
        "fileName": {"column": "title"}, "fileAppendix": {"column": "path"}, "uploadDate": {"column": "up"},
        "publisher": {"column": "who"}}}}
    t = Transformer(parse(doc).txcodes["04"], tmp_path / "files")
    rec = t.record({"rid": 1, "title": "制度", "path": "制度.pdf", "up": "2024-07-08", "who": "张三"})
    assert rec["fileAppendix"] == {"name": "制度.pdf", "media_type": "application/pdf",
                                   "sm3": sm3(b"%PDF-1.4 rules").hex(), "size": 14}
    with pytest.raises(RowError, match="fileAppendix: media path leaves source.media_root"):
        t.record({"rid": 1, "path": "../../etc/passwd"})
    with pytest.raises(RowError, match="fileAppendix: media file not found"):
        t.record({"rid": 1, "path": "nope.doc"})
    assert _canonical(rec) == canonical_json(rec)  # the scan's fast encoding, M field included
    del doc["source"]["media_root"]
    with pytest.raises(MappingError, match="source.media_root: required"):
        parse(doc)


def test_date_cache_and_fast_canonical_agree_with_the_slow_path() -> None:
    people = Transformer(parse(mapping_doc(URL)).txcodes["03"])
    row = {"emp_no": 9, "name": "李\t\"四\"\u2028", "chief": "N", "mgr": 0, "opr": 1, "res": 0, "cert": "C\x01",
           "auth_dt": "2024/07/08", "end_dt": "2028-07-07"}
    first, again = people.record(row), people.record(row)  # the second from the date cache
    assert first == again and first["authDate"] == "2024-07-08" and first["endDate"] == "2028-07-07"
    assert _canonical(first) == canonical_json(first)
    with pytest.raises(RowError, match="authDate"):
        people.record({**row, "auth_dt": "2024-13-45"})
    with pytest.raises(RowError, match="authDate"):  # a bad date is never cached as good
        people.record({**row, "auth_dt": "2024-13-45"})
