"""What every page shares: the :class:`Console` context (chain, database, templates) and :func:`render`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from . import ROLES, WRITER_ROLES
from .auditcache import AuditVerifier
from .blockindex import BlockIndex
from .certscan import CertInfo
from .chain import OrgChain
from .i18n import pick_lang, translate
from .ingestadmin import IngestAdmin
from .security import csrf_token
from .store import Store
from .timefmt import fmt_time

log = logging.getLogger(__name__)

__all__ = ["Console", "render"]


@dataclass
class Console:
    """What every page needs: the chain, the console's database, the ingestion admin API, templates."""

    chain: OrgChain
    store: Store
    state: Path
    ingest: IngestAdmin | None = None
    certs: list[CertInfo] = field(default_factory=list)
    batch_checks: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (appid, batchNo) -> held
    proposals_dir: Path = field(init=False)
    env: Environment = field(init=False)
    blocks: BlockIndex = field(init=False)
    verifier: AuditVerifier = field(init=False)

    def __post_init__(self) -> None:
        self.blocks = BlockIndex(self.chain.qscc, self.chain.channel)
        self.verifier = AuditVerifier(self.chain.audit())
        self.proposals_dir = self.state / "proposals"
        self.proposals_dir.mkdir(parents=True, exist_ok=True)
        self.env = Environment(loader=PackageLoader("qcchain_console", "templates"),
                               autoescape=select_autoescape(["html"]), auto_reload=False)
        self.env.globals.update(fmt_time=fmt_time, ROLES=ROLES)


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a page template with the common context (user, org, language, CSRF token)."""
    console: Console = request.app.state.console
    lang = pick_lang(request.cookies.get("lang"))
    user = getattr(request.state, "user", None)
    html = console.env.get_template(template).render(
        request=request, user=user, org=console.chain.org_name, msp=console.chain.msp_id, lang=lang,
        t=lambda key: translate(lang, key), csrf=csrf_token(request), path=request.url.path,
        can_write=user is not None and user.role in WRITER_ROLES, is_admin=user is not None and user.role == "admin",
        flash=request.session.pop("flash", None), **context)
    return HTMLResponse(html, status_code=status)
