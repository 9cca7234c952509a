"""The network in a directory, as the entry points read it: the consortium file with the node overlay
(``<dir>/nodes.json``) folded in.

:func:`qcchain_network.derive.derive` is pure; this is where its two inputs are read from disk, so the
commands that operate on a running network (``network.sh`` and its node commands, ``deploy``, the story
runner) all see the nodes added and removed after ``up``.
"""

from __future__ import annotations

from pathlib import Path

from . import overlay
from qcchain_consortium import orgoverlay
from .derive import DEFAULT_LOG_SPEC, Layout, derive
from qcchain_consortium.consortium import load_consortium


def load_layout(consortium_file: Path | None, out: Path, log_spec: str = DEFAULT_LOG_SPEC) -> Layout:
    """The layout of the network in ``out``: ``consortium_file`` (default ``network/consortium.yaml``)
    with the membership overlay ``out/orgs.json`` (orgs joined or left) and the node overlay
    ``out/nodes.json`` folded in when the network has them (reads all three).

    Raises:
        ConsortiumError, ConsortiumFileNotFound: the consortium file is missing or invalid.
        OverlayError: ``out/nodes.json`` is unreadable or malformed, or names an org not in the consortium.
        OrgOverlayError: ``out/orgs.json`` is unreadable, malformed or does not apply.
    """
    orgs = orgoverlay.load(Path(out))
    consortium = orgoverlay.fold(load_consortium(consortium_file), orgs)
    return derive(consortium, out, log_spec, overlay.load(Path(out)), orgs.homes())
