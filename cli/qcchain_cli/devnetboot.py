"""``qcchain devnet up --bootstrap``: after the devnet started, bootstrap the consortium so a newcomer can
act as each role — members and policies, each org admin's SM2 key generated into the keystore under the
org's name (``regulator``, ``inspection``, ``usingunit``, ``manufacturer``, ``maintenance``; an existing
key of that label is reused) and registered on chain, the chaincode deployed by majority governance —
then print the next commands.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from .demo import ROOT, load_policies, consortium_members
from .errors import CliError, one_line

CHANNEL = "qcchannel"


def _org_key(store: Any, label: str, secret: bytes) -> Any:
    from qcchain_core.gm import SM2PrivateKey
    from qcchain_gateway.keystoreerrors import WrongPasswordError

    if label in store.labels():
        try:
            return store.get(label, secret)
        except WrongPasswordError as exc:
            raise CliError(f"keystore key {label!r} exists and does not open with this password; use another "
                           "--keystore or the password it was made with") from exc
    key = SM2PrivateKey.generate()
    store.put(label, key, secret)
    return key


def next_commands(state_dir: Path, store_dir: Path) -> list[str]:
    """The lines printed after a bootstrap: where things are and what to run next."""
    prefix = "" if state_dir == Path(".devnet") else f"QCCHAIN_DEVNET_DIR={state_dir} "
    return [
        "",
        f"org admins' SM2 keys (labels = org names) in {store_dir}; --profile takes an org name of this devnet",
        "next (README: act as each role; examples in examples/):",
        f"  {prefix}qcchain records submit --profile manufacturer --key manufacturer --record-id EQ-32019999 \\",
        "      --category equipment --equipment 32019999 --stage production --payload examples/equipment.json",
        f"  {prefix}qcchain records get EQ-32019999 --profile regulator",
        f"  {prefix}qcchain audit timeline --profile regulator",
        f"stop: qcchain devnet down --dir {state_dir}",
    ]


def bootstrap_devnet(state_dir: Path, consortium: Path | None, store_dir: Path, secret: bytes,
                     say: Callable[[str], None]) -> None:
    """Bootstrap the devnet running from ``state_dir``. Raises CliError (one line) on any failure."""
    from qcchain_devnet.profiles import read_devnet_json
    from qcchain_gateway.errors import SdkError
    from qcchain_gateway.keystore import FileKeystore
    from qcchain_sdk.contracts.bootstrap import already_bootstrapped, bootstrap_consortium
    from qcchain_sdk.contracts.story import StoryConfig, StoryError, orgs_from_profiles

    info = read_devnet_json(state_dir) or {}
    profiles = {name: Path(p) for name, p in (info.get("connection_profiles") or {}).items()}
    if not profiles:
        raise CliError(f"{state_dir}/devnet.json names no connection profile; is the devnet running?")
    members = consortium_members(consortium, say)
    store = FileKeystore(store_dir)
    gateways: list[Any] = []
    try:
        orgs, gateways = orgs_from_profiles(profiles, CHANNEL, members)
        if already_bootstrapped(orgs["Regulator"]):
            say("consortium already bootstrapped on this devnet: nothing to do")
        else:
            for name, org in orgs.items():
                org.key = _org_key(store, name.lower(), secret)
            digest = info["chaincode_servers"]["qcchain"]["package_id"].rsplit(":", 1)[1]
            config = StoryConfig(CHANNEL, load_policies(ROOT / "policies"), lambda: int(time.time()),
                                 (digest, digest), {}, say=say)
            bootstrap_consortium(orgs, config)
    except (SdkError, StoryError) as exc:
        raise CliError(f"bootstrap failed: {one_line(exc)}") from exc
    finally:
        for gateway in gateways:
            gateway.close()
    for line in next_commands(state_dir, store_dir):
        say(line)
