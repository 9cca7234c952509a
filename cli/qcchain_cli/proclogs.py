"""Graded logs of the long-running processes the CLI hosts (ingestion and console servers, agent, IoT consumer).

The ``qcchain`` group already configured logs for the process ``qcchain``; a server re-configures them under its
own process name, so ``$QCCHAIN_LOG_DIR/<process>.log`` holds that server's records (docs/OPERATIONS.md).
"""

from __future__ import annotations

import logging
import os

import click
from qcchain_core.logconfig import configure

__all__ = ["process_logs"]


def process_logs(process: str) -> None:
    """Log as ``process``: JSON lines in ``$QCCHAIN_LOG_DIR`` if set, stderr at WARNING (DEBUG with ``-v``).

    Raises:
        OSError: the log directory cannot be created.
    """
    ctx = click.get_current_context(silent=True)
    verbose = bool(ctx is not None and isinstance(ctx.find_root().obj, dict) and ctx.find_root().obj.get("verbose"))
    configure(os.environ.get("QCCHAIN_LOG_DIR") or None, process=process,
              level=logging.DEBUG if verbose else logging.WARNING)
