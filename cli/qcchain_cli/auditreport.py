"""Reports people keep, from an audit: ``audit verify --out report.json | report.html | report.pdf``
(and ``demo --report FILE``).

The report holds what was verified (counts of SM2 signatures, SM3 digests and keys), every mismatch, the
grants and the whole timeline (accesses included), times in ISO-8601 (Asia/Shanghai by default).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from .errors import CliError
from .timefmt import show_time

FORMATS = (".json", ".html", ".htm", ".pdf")


def summary(report: Any) -> list[str]:
    """The verification result as sentences."""
    c = report.checked
    what = (f"re-verified {c['sm2_signatures']} SM2 signatures, {c['sm3_digests']} SM3 digests and {c['keys']} "
            f"registered keys over {len(report.timeline)} events, {len(report.records)} records and "
            f"{len(report.grants)} grants")
    if report.ok:
        return [f"{what}: everything holds."]
    return [f"{what}: {len(report.problems)} mismatch(es) found:"] + [f"  MISMATCH: {p}" for p in report.problems]


def _document(report: Any, channel: str, profile: str) -> dict[str, Any]:
    data = report.to_dict()
    data["channel"], data["read_as"] = channel, profile
    data["summary"] = summary(report)
    for row in data["timeline"]:
        row["time"] = show_time(row["at"])
    data["grants"] = [{**{k: g[k] for k in ("grant_id", "owner_msp", "grantee_msp", "max_grade", "purpose", "status")},
                       "scope": f"{g['scope']['type']}:{g['scope']['value']}", "uses": g.get("uses", 0),
                       "expires": show_time(g["expires_at"])} for g in report.grants]
    return data


def _html(data: dict[str, Any]) -> str:
    e = html.escape

    def rows(items: list[dict[str, Any]], keys: list[str]) -> str:
        head = "".join(f"<th>{e(k)}</th>" for k in keys)
        body = "".join("<tr>" + "".join(f"<td>{e(str(item.get(k, '')))}</td>" for k in keys) + "</tr>" for item in items)
        return f"<table><tr>{head}</tr>{body}</table>"

    verdict = "everything holds" if data["ok"] else f"{len(data['problems'])} mismatch(es)"
    return ("<!doctype html><html><head><meta charset='utf-8'><title>qcchain audit report</title>"
            "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:2px 6px}table{border-collapse:collapse}"
            ".bad{color:#b00}</style></head><body>"
            f"<h1>qcchain audit report — channel {e(data['channel'])}</h1>"
            f"<p>Read as {e(data['read_as'])}. Result: <b class='{'ok' if data['ok'] else 'bad'}'>{e(verdict)}</b>.</p>"
            + "".join(f"<p>{e(line)}</p>" for line in data["summary"])
            + "<h2>Mismatches</h2>" + ("".join(f"<p class='bad'>{e(p)}</p>" for p in data["problems"]) or "<p>none</p>")
            + "<h2>Grants</h2>" + rows(data["grants"], ["grant_id", "status", "owner_msp", "grantee_msp", "scope",
                                                         "max_grade", "purpose", "uses", "expires"])
            + "<h2>Timeline</h2>" + rows(data["timeline"], ["block", "time", "actor_msp", "kind", "detail", "tx_id"])
            + "</body></html>\n")


def _pdf(data: dict[str, Any]) -> bytes:
    """The report as an A4 landscape PDF (reportlab). Chinese text (org full names, details) is set in the
    PDF standard CID font STSong-Light, which every PDF reader supplies: no font file is embedded."""
    from io import BytesIO

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer

    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    styles = getSampleStyleSheet()
    body, cell = styles["BodyText"], styles["BodyText"].clone("cell", fontSize=7, leading=8.5)
    cjk = cell.clone("cjk", fontName="STSong-Light")

    def para(text: Any, style: Any = body) -> Any:
        value = str(text)
        wide = style.clone(style.name + "-cjk", fontName="STSong-Light") if not value.isascii() else style
        return Paragraph(html.escape(value), wide)

    def table(items: list[dict[str, Any]], keys: list[str], widths: list[float]) -> Any:
        rows = [[para(k, cell) for k in keys]] + [[para(item.get(k, ""), cell if str(item.get(k, "")).isascii()
                                                        else cjk) for k in keys] for item in items]
        grid = LongTable(rows, colWidths=[w * mm for w in widths], repeatRows=1)
        grid.setStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                       ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8"))])
        return grid

    verdict = "everything holds" if data["ok"] else f"{len(data['problems'])} mismatch(es)"
    story = [para(f"qcchain audit report - channel {data['channel']}", styles["Title"]),
             para(f"Read as {data['read_as']}. Result: {verdict}.")]
    story += [para(line) for line in data["summary"]]
    story += [para("Mismatches", styles["Heading2"])] + ([para(p) for p in data["problems"]] or [para("none")])
    story += [para("Grants", styles["Heading2"]),
              table(data["grants"], ["grant_id", "status", "owner_msp", "grantee_msp", "scope", "max_grade", "purpose",
                                     "uses", "expires"], [40, 16, 28, 28, 48, 14, 22, 10, 42]) if data["grants"]
              else para("none"), Spacer(1, 4 * mm)]
    story += [para("Timeline", styles["Heading2"]),
              table(data["timeline"], ["block", "time", "actor_msp", "kind", "detail", "tx_id"],
                    [12, 38, 28, 34, 105, 50])]
    buffer = BytesIO()
    SimpleDocTemplate(buffer, pagesize=landscape(A4), title="qcchain audit report", author="qcchain",
                      leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm, bottomMargin=12 * mm).build(story)
    return buffer.getvalue()


def write_report(report: Any, out: Path, channel: str, profile: str, option: str = "--out") -> None:
    """Write the report as JSON, HTML or PDF (by ``out``'s suffix); ``option`` names the option in errors.

    Raises:
        CliError: another suffix, or the file cannot be written.
    """
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise CliError(f"{option} {out}: the report is written as .json, .html or .pdf (by the file's suffix)")
    data = _document(report, channel, profile)
    if suffix == ".pdf":
        content = _pdf(data)
    elif suffix == ".json":
        content = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
    else:
        content = _html(data).encode("utf-8")
    try:
        out.write_bytes(content)
    except OSError as exc:
        raise CliError(f"{option} {out}: cannot write: {exc.strerror or exc}") from exc
