"""Reports people keep, from an audit: ``audit verify --out report.json | report.html``.

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

FORMATS = (".json", ".html", ".htm")


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


def write_report(report: Any, out: Path, channel: str, profile: str) -> None:
    """Write the report as JSON or HTML (by ``out``'s suffix). Raises CliError (format, file)."""
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise CliError(f"--out {out}: the report is written as .json or .html (PDF: print the HTML report)")
    data = _document(report, channel, profile)
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) if suffix == ".json" else _html(data)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"--out {out}: cannot write: {exc.strerror or exc}") from exc
