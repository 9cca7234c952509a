"""Data the console tests need beyond the demo story, written through the SDK as the orgs themselves:
unit records (two sites, each with its city/area and equipment), risk points and hazard sources in all four colours, one risk point whose
name is a ``<script>``, a fresh L3 hidden danger (with a person's name, overdue), and a sharing request
from the using unit to the inspection body."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from qcchain_core.gm import SM2PrivateKey
from qcchain_gateway.profile import connect_profile
from qcchain_sdk.actions import submit_record
from qcchain_sdk.contracts.governance import GovernanceClient
from qcchain_sdk.contracts.sharing import SharingClient
from qcchain_sdk.contracts.story import IR

XSS = "<script>window.__xss=1</script>"
PERSON = "王小明"
SECRET_PROBLEM = "safety valve seal cracked at flange 7"
GRANT_ID = "g-console-request-1"
HD_NEW = "HD-CONSOLE-1"

# (record id, submitting org, category, level, name, equipment code)
RISKS = [("RP-U-1", "UsingUnit", "risk_point", "重大风险", "boiler drum", "32010001"),
         ("RP-U-2", "UsingUnit", "risk_point", "较大风险", XSS, "32010001"),
         ("HS-U-1", "UsingUnit", "hazard_source", "一般风险", "pressure gauge", "32010001"),
         ("RP-M-1", "Maintenance", "risk_point", "低风险", "lift machine room", "32050001"),
         ("RP-M-2", "Maintenance", "risk_point", "一般风险", "hoistway pit", "32050001")]
# the using unit's sites: (record id, equipment code there, name, city, area)
UNITS = [("UNIT-NJ", "32010001", "Nanjing Using Co.", "3201", "320102"),
         ("UNIT-SZ", "32050001", "Suzhou Using Co.", "3205", "320505")]


def _base(record_id: str, tx_code: str) -> dict[str, Any]:
    return {"ID": record_id, "batchNo": "2025060100000001", "txCode": tx_code, "busType": "I", "updateDate": "2025-06-01"}


def risk_payload(record_id: str, category: str, level: str, name: str, equipment: str) -> dict[str, Any]:
    common = {"inherentriskLevel": level, "remainriskLevel": level, "controlLevel": "公司（厂）级", "accidentType": "爆炸",
              "dutyName": "safety dept", "dutyMan": PERSON}
    if category == "risk_point":
        return {**_base(record_id, "06"), "riskNo": record_id, "regNo": equipment, "riskName": name, "riskType": "0",
                "registDate": "2025-06-01", "commonAddr": "plant 1", **common}
    return {**_base(record_id, "07"), "sourceNo": record_id, "riskNo": "RP-U-1", "checkItem": name,
            "checkContent": "reading within range", "measureContent": "monthly check", "measureType": "管理措施", **common}


def _unit(record_id: str, name: str, city: str, area: str) -> dict[str, Any]:
    return {**_base(record_id, "01"), "comName": name, "orgNo": "91320100MA1X0000X0"[:18], "deputy": PERSON,
            "cityCode": city, "aeraCode": area, "address": "1 Example Road", "linkMan": PERSON, "linkTel": "025-12345678"}


def seed(devnet: Path) -> dict[str, Any]:
    """Write the data; returns what the tests look for."""
    info = json.loads((devnet / "devnet.json").read_text(encoding="utf-8"))
    profiles = info["connection_profiles"]
    now = int(time.time())
    keys: dict[str, SM2PrivateKey] = {}
    gateways = {org: connect_profile(profiles[org]) for org in ("UsingUnit", "Maintenance", "Inspection")}
    try:
        contracts = {org: g.get_network("qcchannel").get_contract("qcchain") for org, g in gateways.items()}
        for org, gateway in gateways.items():
            keys[org] = SM2PrivateKey.generate()
            net = gateway.get_network("qcchannel")
            GovernanceClient(net.get_contract("qcchain", "governance"), net.get_contract("qcchain", "keys"),
                             gateway.identity.msp_id, gateway.identity.cert_pem, keys[org]).register_key(now - 60, now + 86400)
        for record_id, equipment, name, city, area in UNITS:
            submit_record(contracts["UsingUnit"], keys["UsingUnit"], payload=_unit(record_id, name, city, area),
                          original=None, record_id=record_id, category="unit", equipment_code=equipment, stage="use",
                          grade="L3")
        for record_id, org, category, level, name, equipment in RISKS:
            submit_record(contracts[org], keys[org], payload=risk_payload(record_id, category, level, name, equipment), original=None,
                          record_id=record_id, category=category, equipment_code=equipment, stage="use", grade="L3")
        danger = {**_base(HD_NEW, "09"), "taskNo": "T-9", "regNo": "32010001", "troubleType": "设备类",
                  "troubleLevel": "较大事故隐患", "mainProblem": SECRET_PROBLEM, "checkMan": PERSON,
                  "checkDate": "2025-06-01", "limitDate": "2025-06-30", "dealInfo": "未整改"}
        submit_record(contracts["UsingUnit"], keys["UsingUnit"], payload=danger, original=None, record_id=HD_NEW,
                      category="hidden_danger", equipment_code="32010001", stage="use", grade="L3")
        SharingClient.with_key(contracts["UsingUnit"], keys["UsingUnit"]).request(
            "InspectionMSP", ("record", IR), "L4", "audit", now + 30 * 86400, max_uses=3, grant_id=GRANT_ID)
    finally:
        for gateway in gateways.values():
            gateway.close()
    return {"grant_id": GRANT_ID, "hd": HD_NEW, "keys": keys, "profiles": profiles}
