"""qcchain console: the browser console (B/S) a member organisation runs for its own staff.

Server-rendered pages (Starlette + Jinja2, inline SVG charts, a little vanilla JavaScript, every asset
served by the app) over the chain, acting with the org's Fabric identity from a connection profile.
Staff accounts, sessions, CSRF and the console's own audit log live in the console's SQLite database.
"""

from __future__ import annotations

__all__ = ["ROLES", "WRITER_ROLES"]

#: staff roles, most powerful first
ROLES = ("admin", "operator", "auditor", "viewer")
#: roles allowed to act on chain (sharing decisions); governance execution is ``admin`` only
WRITER_ROLES = ("admin", "operator")
