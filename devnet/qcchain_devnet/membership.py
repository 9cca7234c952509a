"""Organisations joining and leaving the devnet (issue 18): the membership overlay ``<state dir>/orgs.json``
(the events a Fabric network keeps, :mod:`qcchain_consortium.orgoverlay`) and a restart that applies it.

:func:`record_join` / :func:`record_leave` check that the change applies to the devnet's consortium (the
consortium file it was started from plus the events so far: no name, MSP ID or domain collision, no unknown
channel, the regulator never leaves) and append the event; :func:`restart` stops the devnet and starts it
again with the options it was started with (same port, so connection profiles keep working; ledgers kept),
so the joined org gets its crypto material, MSP, connection profile, channels and collection membership,
and a removed org's identities are refused by the channels' MSP check. Whether governance decided the
change on chain is the caller's check (``qcchain devnet add-org`` / ``remove-org``), made before this
module writes anything.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from qcchain_consortium import orgoverlay
from qcchain_consortium.consortium import Consortium
from qcchain_consortium.membership import JoiningOrg, MembershipError, admit, retire

from .config import ConfigError, load_consortium_with_overlay
from .daemon import UpOptions
from .detached import start_detached, status, stop
from .profiles import read_devnet_json

log = logging.getLogger(__name__)

__all__ = ["current_consortium", "record_join", "record_leave", "restart", "up_options"]


def up_options(state_dir: Path) -> UpOptions:
    """The options the devnet in ``state_dir`` runs with (recorded in ``devnet.json`` at start).

    Raises:
        ConfigError: no running devnet there, or it was started by a version that did not record them.
    """
    if not status(state_dir)["running"]:
        raise ConfigError(f"no devnet runs from {state_dir}: start it first (qcchain devnet up --detach --dir {state_dir})")
    recorded: Any = (read_devnet_json(state_dir) or {}).get("up_options")
    if not isinstance(recorded, dict):
        raise ConfigError(f"{state_dir}/devnet.json does not record the devnet's options: restart it once by hand")
    consortium = recorded.get("consortium")
    return UpOptions(state_dir=state_dir, host=str(recorded["host"]), port=int(recorded["port"]),
                     chaincode_module=str(recorded["chaincode_module"]),
                     consortium=Path(consortium) if consortium else None, tls=bool(recorded["tls"]))


def current_consortium(state_dir: Path) -> Consortium:
    """The running devnet's consortium with its membership events folded in.

    Raises:
        ConfigError: no running devnet, or its consortium/overlay is unusable.
    """
    return load_consortium_with_overlay(up_options(state_dir).consortium, state_dir)


def record_join(state_dir: Path, joining: JoiningOrg) -> Consortium:
    """Append the join of ``joining`` to the devnet's overlay; returns the consortium with it.

    Raises:
        ConfigError: no running devnet, or the join does not apply (collision, unknown channel; names it).
    """
    before = current_consortium(state_dir)
    try:
        after = admit(before, joining)
    except MembershipError as exc:
        raise ConfigError(str(exc)) from None
    orgoverlay.save(state_dir, orgoverlay.load(state_dir).with_event(orgoverlay.Event("join", joining, None)))
    log.info("devnet %s: %s joins (restart to apply)", state_dir, joining.org.msp_id)
    return after


def record_leave(state_dir: Path, msp_id: str) -> Consortium:
    """Append the leave of ``msp_id`` to the devnet's overlay; returns the consortium without it.

    Raises:
        ConfigError: no running devnet, not a member, or the regulator (every bilateral channel needs it).
    """
    before = current_consortium(state_dir)
    try:
        after = retire(before, msp_id)
    except MembershipError as exc:
        raise ConfigError(str(exc)) from None
    orgoverlay.save(state_dir, orgoverlay.load(state_dir).with_event(orgoverlay.Event("leave", msp_id=msp_id)))
    log.info("devnet %s: %s leaves (restart to apply)", state_dir, msp_id)
    return after


def restart(state_dir: Path, timeout: float = 20.0) -> int:
    """Stop the devnet in ``state_dir`` and start it again, detached, with the options it ran with; returns
    the new PID.

    Raises:
        ConfigError: no running devnet. DaemonError / OSError: it did not stop or start (names why).
    """
    options = up_options(state_dir)
    stop(state_dir, timeout=timeout)
    return start_detached(options)
