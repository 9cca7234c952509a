"""JSON Schemas of the categories: one valid sample per D-A table / category, and each kind of violation."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from qcchain_contracts.errors import InvalidInput
from qcchain_contracts.schemas import CATEGORIES, SCHEMAS, schema_of, validate_payload

MEDIA = {"name": "XX管理制度.doc", "media_type": "application/msword", "sm3": "a" * 64, "size": 20480}
ENV = {"ID": "rec-0001", "batchNo": "2024070800000001", "busType": "I", "updateDate": "2024-07-08"}
ORGNO = "91320100MA1XXXXX0A".replace("X", "0")


def da(tx: str, **fields: Any) -> dict[str, Any]:
    return {**ENV, "txCode": tx, **fields}


SAMPLES: dict[str, dict[str, Any]] = {
    "unit": da("01", comName="某某有限公司", orgNo=ORGNO, deputy="张三", cityCode="南京市", aeraCode="鼓楼区",
               address="江苏省南京市鼓楼区某路1号", linkMan="李四", linkTel="18200000000"),
    "department": da("02", deptName="管理一部", dParentName="某某有限公司", isSecDept="1", dLinkMan="张三", dLinkTel="18200000000"),
    "personnel": da("03", psnName="张三", idCardNo="32110000000000000X", deptName="管理部", isSecChief="1",
                    isSecManager="1", isOpr="1", isRes="0", lcnsKind="特种设备安全管理", certNo="320525196205173017",
                    authDate="2024-07-08", endDate="2028-07-07", authCom="某市某区市场监督管理局"),
    "rules": da("04", fileName="某管理制度", fileAppendix=MEDIA, uploadDate="2024-07-08", publisher="张三"),
    "training": da("05", planNo="2002021", planName="研讨会", startDate="2024-07-08", endDate="2024-08-18",
                   trainTitle="某培训", trainDate="2024-07-08", trainAddress="会议室", trainContent="培训内容",
                   trainFile={**MEDIA, "name": "培训活动.jpg", "media_type": "image/jpeg"}),
    "risk_point": da("06", riskNo="FX202400000001", regNo="31103200000000090001", riskName="电站锅炉", riskType="0",
                     registDate="2024-10-01", accidentType="爆炸、泄漏", commonAddr="第一车间", inherentriskLevel="较大风险",
                     remainriskLevel="低风险", controlLevel="公司（厂）级", dutyName="某公司", dutyMan="张三",
                     checkMan="李四", checkDate="2024-10-02"),
    "hazard_source": da("07", sourceNo="WX2212162050157970", riskNo="FX202400000001", checkItem="电站锅炉泄漏",
                        checkContent="压力是否波动、存在异响", inherentriskLevel="较大风险", remainriskLevel="低风险",
                        controlLevel="公司（厂）级", accidentType="泄漏", measureContent="SOP 巡检、预防性维护保养、定检",
                        measureType="管理措施", dutyName="某公司", dutyMan="张三，李四"),
    "risk_picture": da("08", riskfileType="风险四色分布图", riskFile={**MEDIA, "media_type": "image/jpeg"},
                       uploadDate="2024-07-08", publisher="张三"),
    "hidden_danger": da("09", taskNo="YH20210831170804000006", regNo="31103200000000090001", troubleType="管理类",
                        troubleLevel="一般事故隐患", mainProblem="安全技术档案不全", checkMan="张三", checkDate="2024-04-16",
                        limitDate="2024-05-16", dealMan="张三", dealDate="2024-05-16", dealInfo="已整改",
                        acceptMan="张三", acceptDate="2024-05-17", acceptInfo="整改验收合格"),
    "equipment": {**ENV, "regNo": "31103200000000090001", "equipmentKind": "锅炉", "equipmentName": "电站锅炉",
                  "model": "DG-100", "productNo": "F2024-001", "manufacturerName": "某锅炉厂", "manufactureDate": "2024-01-01"},
    "production_unit": {**ENV, "comName": "某锅炉厂", "orgNo": ORGNO, "address": "南京", "licenceNo": "TS2110001"},
    "using_unit": {**ENV, "comName": "某化工公司", "orgNo": ORGNO, "address": "南京"},
    "maintenance_unit": {**ENV, "comName": "某维保公司", "orgNo": ORGNO, "address": "南京"},
    "inspection_body": {**ENV, "comName": "某特检院", "orgNo": ORGNO, "address": "南京", "licenceEndDate": "2027-12-31"},
    "inspection_report": {**ENV, "reportNo": "R2024-0001", "regNo": "31103200000000090001", "inspectionType": "定期检验",
                          "conclusion": "符合要求", "inspectionDate": "2024-05-01", "inspectionBody": "某特检院",
                          "inspectors": "王五，赵六", "document": {**MEDIA, "name": "report.pdf", "media_type": "application/pdf"}},
    "certificate": {**ENV, "certNo": "C2024-1", "certType": "使用登记证", "holderName": "某化工公司", "issueDate": "2024-01-02",
                    "issuer": "某市场监督管理局", "document": {**MEDIA, "name": "cert.pdf", "media_type": "application/pdf"}},
}
for _cat, _kind in (("key_production_unit", "licence"), ("key_using_unit", "safety_management"),
                    ("key_maintenance_unit", "maintenance_record"), ("key_inspection_body", "inspection_plan"),
                    ("key_regulator", "rectification_order")):
    SAMPLES[_cat] = {**ENV, "keyType": _kind, "subject": "主题", "content": "内容", "effectiveDate": "2024-01-01"}


def violations(category: str, payload: Any) -> str:
    with pytest.raises(InvalidInput) as err:
        validate_payload(category, payload)
    return str(err.value)


def test_every_category_has_a_valid_draft_2020_12_schema_and_sample() -> None:
    assert set(SAMPLES) == set(CATEGORIES)
    for category in CATEGORIES:
        Draft202012Validator.check_schema(dict(SCHEMAS[category]))
        assert schema_of(category)["$schema"].endswith("2020-12/schema")
        validate_payload(category, SAMPLES[category])


@pytest.mark.parametrize("category", ["unit", "department", "personnel", "rules", "training", "risk_point",
                                      "hazard_source", "risk_picture", "hidden_danger"])
def test_da_envelope(category: str) -> None:
    bad = dict(SAMPLES[category], ID="x" * 65, batchNo="2024133100000001", txCode="99", busType="X", updateDate="2024/07/08")
    text = violations(category, bad)
    for path in ("$.ID", "$.batchNo", "$.txCode", "$.busType", "$.updateDate"):
        assert path in text
    assert "(5 violations)" in text
    assert "$.batchNo" in violations(category, dict(SAMPLES[category], batchNo="2024070800000000"))  # sequence from 1
    missing = dict(SAMPLES[category])
    del missing["batchNo"]
    assert "'batchNo' is a required property" in violations(category, missing)


@pytest.mark.parametrize(
    ("category", "field", "value", "expect"),
    [
        ("unit", "comName", "某" * 101, "at most 100 characters"),                      # C: maxLength
        ("unit", "orgNo", "91320100MA1000000I", "does not match"),         # credit code charset (no I)
        ("unit", "linkTel", "call me", "does not match"),
        ("department", "isSecDept", "2", "is not one of"),                  # N: 1/0 enumeration
        ("personnel", "idCardNo", "32110000000000000Y", "does not match"),
        ("personnel", "lcnsKind", "开车", "is not one of"),                  # 11 certificate kinds
        ("personnel", "authDate", "2024-02-30", "is not a valid date"),         # D: calendar check
        ("rules", "fileAppendix", "XX管理制度.doc", "must be of type object"),  # M: a reference object
        ("rules", "fileAppendix", {**MEDIA, "sm3": "zz"}, "does not match"),
        ("training", "trainFile", {**MEDIA, "size": -1}, "breaks the 'minimum' rule"),
        ("risk_point", "riskType", "2", "is not one of"),
        ("risk_point", "accidentType", "爆炸、地震", "does not match"),
        ("risk_point", "inherentriskLevel", "高风险", "is not one of"),
        ("risk_point", "controlLevel", "国家级", "is not one of"),
        ("hazard_source", "measureType", "祈祷", "is not one of"),
        ("hazard_source", "dutyMan", "张三,李四", "does not match"),       # separator is the full-width comma
        ("risk_picture", "riskfileType", "照片", "is not one of"),
        ("hidden_danger", "troubleType", "其他类", "is not one of"),
        ("hidden_danger", "troubleLevel", "重大", "is not one of"),
        ("hidden_danger", "dealInfo", "处理中", "is not one of"),
        ("hidden_danger", "acceptInfo", "合格", "is not one of"),
        ("hidden_danger", "checkDate", 20240416, "must be of type string"),
        ("equipment", "equipmentKind", "汽车", "is not one of"),
        ("inspection_report", "conclusion", "还行", "is not one of"),
    ],
)
def test_each_kind_of_field_violation(category: str, field: str, value: Any, expect: str) -> None:
    text = violations(category, dict(SAMPLES[category], **{field: value}))
    assert f"$.{field}" in text and expect in text and "(1 violations)" in text


def test_unknown_fields_missing_fields_and_all_reported_at_once() -> None:
    payload = copy.deepcopy(SAMPLES["hidden_danger"])
    del payload["regNo"]
    payload["secret"] = "x"
    payload["checkDate"] = "yesterday"
    text = violations("hidden_danger", payload)
    assert "'regNo' is a required property" in text and "'secret' was unexpected" in text and "$.checkDate" in text


def test_conditional_operator_certificate_fields() -> None:
    payload = dict(SAMPLES["personnel"])
    del payload["certNo"]
    assert "'certNo' is a required property" in violations("personnel", payload)
    payload["isOpr"] = "0"
    validate_payload("personnel", payload)  # non-operators need no certificate


def test_hidden_danger_before_rectification_and_numeric_acceptance() -> None:
    early = {k: v for k, v in SAMPLES["hidden_danger"].items() if not k.startswith(("deal", "accept"))}
    validate_payload("hidden_danger", early)
    validate_payload("hidden_danger", dict(SAMPLES["hidden_danger"], acceptInfo="1"))


def test_unknown_category_and_non_object_payload() -> None:
    assert "unknown category 'nope'" in violations("nope", {})
    assert "must be a JSON object, not list" in violations("unit", [])


def test_many_violations_are_capped_in_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    import qcchain_contracts.schemas as module

    monkeypatch.setattr(module, "MAX_ERRORS", 5)
    payload = {k: 123 for k in SAMPLES["training"]}  # 14 fields, one violation each
    text = violations("training", payload)
    assert "(14 violations)" in text and "and 9 more" in text


def test_messages_never_echo_field_values() -> None:
    secret = "32110000000000000Y"
    text = violations("personnel", dict(SAMPLES["personnel"], idCardNo=secret, psnName="某" * 51))
    assert secret not in text and "某某" not in text and "$.idCardNo" in text and "$.psnName" in text
