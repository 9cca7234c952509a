"""``qcchain demo``: the consortium story (the main job) on the embedded devnet, from a clean state.

Starts a devnet (fresh temporary state directory unless ``--dir``) serving the business chaincode
``qcchain_contracts``, connects once per member org as its ``Admin`` (identities from the devnet's
connection profiles and MSP directories), runs :class:`qcchain_sdk.contracts.story.Story` through the
Gateway SDK and prints each step, the auditor's timeline and a summary. Exit status 0 only if every step
held; otherwise one line naming the step. The devnet is stopped at the end unless ``--keep`` (then it
runs detached, like ``qcchain devnet up --detach``, and ``qcchain devnet down --dir DIR`` stops it).
With ``--profiles DIR`` the story runs against an already running network instead (e.g. real Fabric
brought up by ``scripts/network.sh up``), reading ``DIR/connection-<org>.json``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import click
import yaml

from .errors import CliError

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
CHANNEL = "qcchannel"
POLICY_NAMES = ("governance", "grading", "sharing")
DEVNET_LIFECYCLE_NOTE = ("on the devnet an upgrade is its governance side (approved version + package digest "
                         "on chain); Fabric's `peer lifecycle` install / approveformyorg / commit (sequence + 1) "
                         "and switching the chaincode server apply on real Fabric only")


def load_policies(directory: Path) -> dict[str, Any]:
    """The on-chain policy documents ``governance``, ``grading``, ``sharing`` from ``directory``.

    Raises:
        CliError: a file is missing or not YAML.
    """
    out = {}
    for name in POLICY_NAMES:
        path = directory / f"{name}.yaml"
        try:
            out[name] = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise CliError(f"cannot read policy {path}: {exc}") from exc
    return out


def consortium_members(consortium: Path | None, say: Any) -> dict[str, dict[str, str]]:
    """Org name -> role, credit code, full name from the consortium file.

    Raises:
        CliError: the consortium file is invalid (the loader also checks each GB 32100 credit code).
    """
    from qcchain_network.consortium import load_consortium

    try:
        model = load_consortium(consortium)
    except Exception as exc:  # noqa: BLE001 - the consortium loader's errors, one line
        raise CliError(f"consortium file: {exc}") from exc
    return {org.name: {"role": org.role, "credit_code": org.credit_code, "full_name": org.full_name}
            for org in model.orgs}


@contextlib.contextmanager
def _devnet(state_dir: Path, keep: bool, say: Any) -> Iterator[dict[str, Any]]:
    """A devnet running from ``state_dir`` (in-process, or detached with ``keep``); yields devnet.json."""
    from qcchain_devnet.daemon import BANNER, UpOptions, running_devnet, start_detached
    from qcchain_devnet.errors import DevnetError

    options = UpOptions(state_dir=state_dir, port=0, chaincode_module="qcchain_contracts")
    say(BANNER)
    stack = contextlib.ExitStack()
    try:
        if keep:
            start_detached(options)
        else:
            stack.enter_context(running_devnet(options))
        info = json.loads((state_dir / "devnet.json").read_text(encoding="utf-8"))
    except (DevnetError, OSError, ValueError) as exc:
        stack.close()
        raise CliError(f"devnet did not start: {exc}") from exc
    with stack:
        yield info


def _clean_dir(state_dir: Path | None) -> tuple[Path, bool]:
    """The state directory to use and whether it is a temporary one; a given DIR must be empty."""
    if state_dir is None:
        return Path(tempfile.mkdtemp(prefix="qcchain-demo-")) / "devnet", True
    if state_dir.exists() and any(state_dir.iterdir()):
        raise CliError(f"--dir {state_dir} is not empty; the demo starts from a clean state (use a new directory)")
    return state_dir, False


def _package_digests(info: dict[str, Any]) -> tuple[str, str]:
    """(running v1 package digest from devnet.json, digest of the v2 package label of the same module)."""
    from qcchain_devnet.daemon import package_id

    v1 = info["chaincode_servers"]["qcchain"]["package_id"].rsplit(":", 1)[1]
    v2 = package_id("qcchain", "2.0", info.get("chaincode_module") or "qcchain_contracts").rsplit(":", 1)[1]
    return v1, v2


def run_demo(profiles: dict[str, Path], members: dict[str, dict[str, str]], policies: dict[str, Any],
             digests: tuple[str, str], say: Any, note: str) -> Any:
    """Connect one gateway per org and run the story; returns the Story. Raises StoryError."""
    from qcchain_sdk.contracts.story import Story, StoryConfig, StoryError, demo_payloads, orgs_from_profiles

    unknown = sorted(set(profiles) - set(members))
    if unknown:
        raise StoryError(f"setup: orgs {', '.join(unknown)} have a connection profile but are not in the consortium")
    orgs, gateways = orgs_from_profiles(profiles, CHANNEL, members)
    try:
        regulator = next(g for name, g in zip(profiles, gateways) if name == "Regulator")
        config = StoryConfig(CHANNEL, policies, lambda: int(time.time()), digests, demo_payloads(), say=say,
                             qscc=regulator.get_network(CHANNEL).get_contract("qscc"), lifecycle_note=note)
        story = Story(orgs, config)
        story.run()
        return story
    finally:
        for gateway in gateways:
            gateway.close()


def _profiles_in(directory: Path) -> dict[str, Path]:
    """Org name -> profile for every ``connection-*.json`` in ``directory`` (org = the profile's client org)."""
    out = {}
    for path in sorted(directory.glob("connection-*.json")):
        try:
            out[json.loads(path.read_text(encoding="utf-8"))["client"]["organization"]] = path
        except (OSError, ValueError, KeyError) as exc:
            raise CliError(f"{path}: not a connection profile ({exc})") from exc
    if not out:
        raise CliError(f"no connection-*.json profiles in {directory}")
    return out


@click.command()
@click.option("--dir", "state_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Devnet state directory (must be new or empty; default: a fresh temporary directory).")
@click.option("--keep", is_flag=True, help="Leave the devnet running (detached) after the demo.")
@click.option("--fabric", is_flag=True, help="Run on a native Fabric network (needs Fabric binaries).")
@click.option("--profiles", "profiles_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Run against a running network's connection profiles instead of starting a devnet.")
@click.option("--package-digest", default=None,
              help="With --profiles: the approved package digest (hex SHA-256 of the running qcchain package).")
@click.option("--consortium", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Consortium file (default: network/consortium.yaml).")
@click.option("--policies", "policies_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=ROOT / "policies", show_default=True, help="Directory of the policy documents.")
def demo(state_dir: Path | None, keep: bool, fabric: bool, profiles_dir: Path | None, package_digest: str | None,
         consortium: Path | None, policies_dir: Path) -> None:
    """Run the consortium demo (the main job) from a clean state; exit 0 only if every step held."""
    from qcchain_sdk.contracts.story import StoryError

    if fabric:
        _fabric_unavailable()

    started = time.monotonic()
    say = click.echo
    policies, members = load_policies(policies_dir), consortium_members(consortium, say)
    try:
        if profiles_dir is not None:
            if package_digest is None:
                raise CliError("--profiles needs --package-digest (the approved digest of the running qcchain package)")
            digests = (package_digest, "f" * 64)
            say(f"runtime: the network of the connection profiles in {profiles_dir}")
            story = run_demo(_profiles_in(profiles_dir), members, policies, digests, say, "")
        else:
            directory, temporary = _clean_dir(state_dir)
            try:
                with _devnet(directory, keep, say) as info:
                    say(f"runtime: devnet at {info['url']} (state {directory})")
                    profiles = {name: Path(p) for name, p in info["connection_profiles"].items()}
                    story = run_demo(profiles, members, policies, _package_digests(info), say, DEVNET_LIFECYCLE_NOTE)
            finally:
                _finish(directory, temporary, keep, say)
    except StoryError as exc:
        raise CliError(f"demo failed: {exc}") from exc
    say(f"demo: all {len(story.steps)} steps held in {time.monotonic() - started:.1f} s")


def _finish(directory: Path, temporary: bool, keep: bool, say: Any) -> None:
    if keep:
        say(f"devnet kept running from {directory}; stop it with `qcchain devnet down --dir {directory}`")
    else:
        say("devnet stopped")
        if temporary:
            shutil.rmtree(directory.parent, ignore_errors=True)


def _fabric_unavailable() -> None:
    """``--fabric``: say precisely why it cannot run here (never pretends).

    Raises:
        CliError: always — no binaries, or the native bring-up is not wired into the demo yet.
    """
    from qcchain_network.binaries import find_all
    from qcchain_network.errors import BinaryNotFound

    try:
        find_all()
    except BinaryNotFound as exc:
        raise CliError(f"--fabric needs Hyperledger Fabric binaries: {exc}") from exc
    raise CliError("--fabric: bring the network up with `scripts/network.sh up`, then run "
                   "`qcchain demo --profiles <its connection-profiles dir> --package-digest <qcchain package digest>`")
