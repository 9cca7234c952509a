"""Realistic D-A records of all nine tables (txcode 01-09) for the ingestion benchmark, demo and tests.

``record(txcode, rid, batch_no, bus_type, update_date, n)`` returns a record valid against its table's
schema (:mod:`qcchain_model.tables`); ``n`` varies names, numbers and enumerations deterministically.
"""

from __future__ import annotations

from typing import Any

from qcchain_model.creditcode import credit_check_char

__all__ = ["record", "batch_no", "credit_code", "TXCODES"]

TXCODES = ("01", "02", "03", "04", "05", "06", "07", "08", "09")
_LEVELS = ("低风险", "一般风险", "较大风险", "重大风险")
_TROUBLE = ("设备类", "管理类", "作业过程（人员）类", "环境类")


def credit_code(n: int) -> str:
    """A valid GB 32100 credit code numbered ``n``."""
    first17 = f"91320100MA{n % 10 ** 7:07d}"
    return first17 + credit_check_char(first17)


def batch_no(date: str, seq: int) -> str:
    """``YYYYMMDD`` + 8-digit sequence from a ``YYYY-MM-DD`` date."""
    return date.replace("-", "") + f"{seq:08d}"


def _media(n: int, name: str, media_type: str) -> dict[str, Any]:
    return {"name": name, "media_type": media_type, "sm3": f"{n:064x}", "size": 1024 + n}


def _fields(txcode: str, n: int, date: str) -> dict[str, Any]:
    reg = f"3110320000000009{n % 10000:04d}"
    if txcode == "01":
        return {"comName": f"某某化工有限公司{n}", "orgNo": credit_code(n), "deputy": "张三", "cityCode": "320100",
                "aeraCode": "320106", "address": f"江苏省南京市鼓楼区某路{n}号", "linkMan": "李四", "linkTel": f"182{n % 10 ** 8:08d}"}
    if txcode == "02":
        return {"deptName": f"设备管理{n}部", "dParentName": "某某化工有限公司", "isSecDept": str(n % 2), "dLinkMan": "张三",
                "dLinkTel": f"139{n % 10 ** 8:08d}"}
    if txcode == "03":
        return {"psnName": f"王{n}", "idCardNo": f"3201061990{n % 10 ** 7:07d}X", "deptName": "设备部", "isSecChief": "0",
                "isSecManager": "1", "isOpr": "1", "isRes": "0", "lcnsKind": "锅炉作业", "certNo": f"T{n:010d}",
                "authDate": "2023-01-01", "endDate": "2027-01-01", "authCom": "南京市市场监督管理局"}
    if txcode == "04":
        return {"fileName": f"设备安全管理制度{n}", "fileAppendix": _media(n, f"制度{n}.pdf", "application/pdf"),
                "uploadDate": date, "publisher": "张三"}
    if txcode == "05":
        return {"planNo": f"P{n:08d}", "planName": "年度培训", "startDate": "2024-01-01", "endDate": "2024-12-31",
                "trainTitle": f"锅炉安全培训{n}", "trainDate": "2024-03-01", "trainAddress": "一号会议室",
                "trainContent": "安全操作规程", "trainFile": _media(n, f"培训{n}.jpg", "image/jpeg")}
    if txcode == "06":
        return {"riskNo": f"FX{n:012d}", "regNo": reg, "riskName": "电站锅炉", "riskType": "0", "registDate": "2024-01-01",
                "accidentType": "爆炸、泄漏", "commonAddr": "第一车间", "inherentriskLevel": _LEVELS[n % 4],
                "remainriskLevel": "低风险", "controlLevel": "公司（厂）级", "dutyName": "设备部", "dutyMan": "张三",
                "checkMan": "李四", "checkDate": "2024-02-01"}
    if txcode == "07":
        return {"sourceNo": f"WX{n:016d}", "riskNo": f"FX{n:012d}", "checkItem": "锅炉泄漏", "checkContent": "压力是否波动",
                "inherentriskLevel": _LEVELS[n % 4], "remainriskLevel": "低风险", "controlLevel": "公司（厂）级",
                "accidentType": "泄漏", "measureContent": "巡检、预防性维护保养", "measureType": "管理措施",
                "dutyName": "设备部", "dutyMan": "张三，李四"}
    if txcode == "08":
        return {"riskfileType": "风险四色分布图", "riskFile": _media(n, f"四色图{n}.jpg", "image/jpeg"), "uploadDate": date,
                "publisher": "张三"}
    if txcode == "09":
        return {"taskNo": f"YH{n:020d}", "regNo": reg, "troubleType": _TROUBLE[n % 4], "troubleLevel": "一般事故隐患",
                "mainProblem": "安全技术档案不全", "checkMan": "张三", "checkDate": "2024-04-16", "limitDate": "2024-05-16"}
    raise ValueError(f"unknown txcode {txcode!r}")


def record(txcode: str, rid: str, batch: str, bus_type: str, update_date: str, n: int) -> dict[str, Any]:
    """One schema-valid record. Raises ValueError: unknown txcode."""
    return {"ID": rid, "batchNo": batch, "txCode": txcode, "busType": bus_type, "updateDate": update_date,
            **_fields(txcode, n, update_date)}
