"""The small consortium of ``small-consortium.yaml`` written for one test module: its own ports, absolute
policy paths, and optionally credit codes (for the governance bootstrap), one chaincode or BFT x4."""

from __future__ import annotations

from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
CREDIT = {"Inspection": ("Special Equipment Inspection and Testing Institute", "12100000400011546Y"),
          "Regulator": ("Special Equipment Safety Supervision Bureau", "11100000000013127D")}


def small_consortium(work: Path, name: str, base_port: int, *, credit: bool = False, one_chaincode: bool = False,
                     bft: bool = False) -> Path:
    """Write ``work/<name>.yaml`` and return its path."""
    data = yaml.safe_load((HERE / "small-consortium.yaml").read_text())
    data["network"]["base_port"] = base_port
    data["policies"] = {k: str((HERE / v).resolve()) for k, v in data["policies"].items()}
    if one_chaincode:
        data["channels"][0]["chaincodes"] = data["channels"][0]["chaincodes"][:1]
    if bft:
        data["orderer"].update(consensus="bft", nodes=4)
    if credit:
        for org in data["orgs"]:
            org["full_name"], org["credit_code"] = CREDIT[org["name"]]
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
