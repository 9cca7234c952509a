"""``qcchain demo``: the consortium story (the main job) on the embedded devnet, from a clean state.

Starts a devnet (fresh temporary state directory unless ``--dir``) serving the business chaincode
``qcchain_contracts``, connects once per member org as its ``Admin`` (identities from the devnet's
connection profiles and MSP directories), runs :class:`qcchain_sdk.contracts.story.Story` through the
Gateway SDK and prints each step, the auditor's timeline and a summary. Exit status 0 only if every step
held; otherwise one line naming the step. The devnet is stopped at the end unless ``--keep`` (then it
runs detached, like ``qcchain devnet up --detach``, and ``qcchain devnet down --dir DIR`` stops it).
With ``--profiles DIR`` the story runs against an already running network instead (e.g. real Fabric
brought up by ``scripts/network.sh up``), reading ``DIR/connection-<org>.json``.

With ``--fabric`` it runs on real Hyperledger Fabric (binaries from ``FABRIC_BIN`` or ``PATH``): brings the
consortium (``--consortium``, default ``network/consortium.yaml``) up as native processes, deploys
``qcchain_contracts`` as CCaaS on qcchannel with ``peer lifecycle``, runs the same story (each submit
waits until every org's peer committed it), then the whole chaincode's upgrade (governed, then
``peer lifecycle`` sequence 2 and the v2 server), prints timings and takes the network down, also on
failure (``qcchain_network.story_net``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import click
import yaml

from .demoingest import ingestion_steps
from .demowarnings import run_warning_steps
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
    from qcchain_consortium.consortium import load_consortium

    try:
        model = load_consortium(consortium)
    except Exception as exc:  # noqa: BLE001 - the consortium loader's errors, one line
        raise CliError(f"consortium file: {exc}") from exc
    return {org.name: {"role": org.role, "credit_code": org.credit_code, "full_name": org.full_name}
            for org in model.orgs}


@contextlib.contextmanager
def _devnet(state_dir: Path, keep: bool, say: Any) -> Iterator[dict[str, Any]]:
    """A devnet running from ``state_dir`` (in-process, or detached with ``keep``); yields devnet.json."""
    from qcchain_devnet.daemon import BANNER, UpOptions, running_devnet
    from qcchain_devnet.detached import start_detached
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
    from qcchain_devnet.ccservers import package_id

    v1 = info["chaincode_servers"]["qcchain"]["package_id"].rsplit(":", 1)[1]
    v2 = package_id("qcchain", "2.0", info.get("chaincode_module") or "qcchain_contracts").rsplit(":", 1)[1]
    return v1, v2


def run_demo(profiles: dict[str, Path], members: dict[str, dict[str, str]], policies: dict[str, Any],
             digests: tuple[str, str], say: Any, note: str, synced: bool = False,
             after: Callable[[Any], None] | None = None) -> Any:
    """Connect one gateway per org and run the story; returns the Story. Raises StoryError.

    ``synced`` (real Fabric): each submit returns only once every org's peer committed its block, so the
    next org acting on it through its own peer sees it (:mod:`qcchain_network.consistency`). ``after`` runs
    with the Story once it held, before the gateways are closed.
    """
    from qcchain_sdk.contracts.story import Story, StoryConfig, StoryError, demo_payloads, orgs_from_profiles

    unknown = sorted(set(profiles) - set(members))
    if unknown:
        raise StoryError(f"setup: orgs {', '.join(unknown)} have a connection profile but are not in the consortium")
    if synced:
        from qcchain_network.demo.storyrunner import synced_orgs

        orgs, gateways, heights = synced_orgs(profiles, CHANNEL, members)
    else:
        (orgs, gateways), heights = orgs_from_profiles(profiles, CHANNEL, members), None
    try:
        regulator = next(g for name, g in zip(profiles, gateways) if name == "Regulator")
        config = StoryConfig(CHANNEL, policies, lambda: int(time.time()), digests, demo_payloads(), say=say,
                             qscc=regulator.get_network(CHANNEL).get_contract("qscc"), lifecycle_note=note)
        story = Story(orgs, config)
        if heights is not None:
            story.settle = heights.wait_for_block
        story.run()
        if after is not None:
            after(story)
        if heights is not None:
            say(f"  time  waiting until every org's peer had committed: {heights.waited:.2f} s in total over "
                f"{heights.waits} submits")
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
@click.option("--keep", is_flag=True, help="Leave the devnet (or with --fabric the Fabric network) running after the demo.")
@click.option("--fabric", is_flag=True, help="Bring up a native Fabric network (FABRIC_BIN or PATH), run the story on it, take it down.")
@click.option("--profiles", "profiles_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Run against a running network's connection profiles instead of starting a devnet.")
@click.option("--package-digest", default=None,
              help="With --profiles: the approved package digest (hex SHA-256 of the running qcchain package).")
@click.option("--consortium", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Consortium file (default: network/consortium.yaml).")
@click.option("--policies", "policies_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=ROOT / "policies", show_default=True, help="Directory of the policy documents.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the auditor's report of the whole run to keep: FILE.html, FILE.json or FILE.pdf "
                   "(timeline with accesses, what was verified, any mismatch).")
def demo(state_dir: Path | None, keep: bool, fabric: bool, profiles_dir: Path | None, package_digest: str | None,
         consortium: Path | None, policies_dir: Path, report_path: Path | None) -> None:
    """Run the consortium demo (the main job) from a clean state; exit 0 only if every step held."""
    from qcchain_sdk.contracts.story import StoryError

    if fabric and profiles_dir is not None:
        raise CliError("--fabric brings up its own network; it cannot be combined with --profiles")
    _check_report_path(report_path)
    started = time.monotonic()
    say = click.echo
    policies, members = load_policies(policies_dir), consortium_members(consortium, say)
    try:
        if fabric:
            story = run_fabric(state_dir, consortium, members, policies, say, keep=keep, report=report_path)
        elif profiles_dir is not None:
            if package_digest is None:
                raise CliError("--profiles needs --package-digest (the approved digest of the running qcchain package)")
            digests = (package_digest, "f" * 64)
            say(f"runtime: the network of the connection profiles in {profiles_dir}")
            story = run_demo(_profiles_in(profiles_dir), members, policies, digests, say, "",
                             after=lambda s: _write_report(s, report_path, say))
        else:
            directory, temporary = _clean_dir(state_dir)
            try:
                with _devnet(directory, keep, say) as info:
                    say(f"runtime: devnet at {info['url']} (state {directory})")
                    profiles = {name: Path(p) for name, p in info["connection_profiles"].items()}
                    story = run_demo(profiles, members, policies, _package_digests(info), say, DEVNET_LIFECYCLE_NOTE,
                                     after=lambda s: (ingestion_steps(s, profiles["Regulator"], say),
                                                    run_warning_steps(s, policies_dir, say),
                                                    _write_report(s, report_path, say)))
            finally:
                _finish(directory, temporary, keep, say)
    except StoryError as exc:
        raise CliError(f"demo failed: {exc}") from exc
    say(f"demo: all {len(story.steps)} steps held in {time.monotonic() - started:.1f} s")


def _check_report_path(path: Path | None) -> None:
    """Refuse a --report FILE that could not be written, before anything runs. Raises CliError."""
    from .auditreport import FORMATS

    if path is None:
        return
    if path.suffix.lower() not in FORMATS:
        raise CliError(f"--report {path}: the report is written as .json, .html or .pdf (by the file's suffix)")
    if not path.absolute().parent.is_dir():
        raise CliError(f"--report {path}: folder {path.absolute().parent} does not exist")


def _write_report(story: Any, path: Path | None, say: Any) -> None:
    """With --report: the Regulator's audit of the channel after every step (ingestion and warnings
    included), written to ``path``. Raises CliError (the file cannot be written)."""
    from .auditreport import write_report

    if path is None:
        return
    report = story.audit_now()
    write_report(report, path, CHANNEL, "Regulator", option="--report")
    verdict = "everything holds" if report.ok else f"{len(report.problems)} mismatch(es)"
    say(f"report: {len(report.timeline)} events re-verified ({verdict}), written to {path}")


def _finish(directory: Path, temporary: bool, keep: bool, say: Any) -> None:
    if keep:
        say(f"devnet kept running from {directory}; stop it with `qcchain devnet down --dir {directory}`")
    else:
        say("devnet stopped")
        if temporary:
            shutil.rmtree(directory.parent, ignore_errors=True)


FABRIC_LIFECYCLE_NOTE = ("on Fabric the records contract's upgrade is its governance side; switching the running "
                         "package is the whole chaincode's `peer lifecycle` upgrade (the last step)")


def _fabric_binaries() -> None:
    """Raises CliError (one line) unless every Fabric binary and Fabric's base config are found."""
    from qcchain_network.binaries import base_config_dir, find_all
    from qcchain_network.errors import BinaryNotFound

    try:
        base_config_dir(find_all()["peer"])
    except BinaryNotFound as exc:
        raise CliError(f"--fabric needs Hyperledger Fabric binaries: {exc}") from exc


def _fabric_out(state_dir: Path | None) -> tuple[Path, bool]:
    if state_dir is None:
        return Path(tempfile.mkdtemp(prefix="qcchain-demo-fabric-")) / "net", True
    if state_dir.exists() and any(state_dir.iterdir()):
        raise CliError(f"--dir {state_dir} is not empty; the demo starts from a clean state (use a new directory)")
    return state_dir.absolute(), False


def _sigterm_exits() -> None:
    """Turn SIGTERM into SystemExit so the network is taken down on the way out."""
    def handler(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def run_fabric(state_dir: Path | None, consortium: Path | None, members: dict[str, dict[str, str]],
               policies: dict[str, Any], say: Any, keep: bool = False, report: Path | None = None) -> Any:
    """Bring the native network up, deploy ``qcchain``, run the story (+ the whole-chaincode upgrade
    with ``peer lifecycle``), record the genesis nodes in the on-chain node registry (test admins' keys),
    take the network down whatever happened (unless ``keep``); returns the Story.

    Raises:
        CliError: binaries missing, the network or the deployment failed, a process was left running.
        StoryError: a step of the story did not hold.
    """
    from qcchain_network import procs
    from qcchain_network.errors import NetworkError
    from qcchain_network.demo.storyrunner import story_network

    _fabric_binaries()
    out, temporary = _fabric_out(state_dir)
    story = None
    _sigterm_exits()
    say(f"runtime: native Hyperledger Fabric network in {out} (bringing it up...)")
    t0 = time.monotonic()
    try:
        with story_network(out, consortium, keep=keep) as net:
            for name, seconds in net.timings.items():
                say(f"  time  {name}: {seconds:.1f} s")
            t1 = time.monotonic()
            story = run_demo(net.profiles, members, policies, net.digests, say, FABRIC_LIFECYCLE_NOTE, synced=True,
                             after=lambda s: (ingestion_steps(s, net.profiles["Regulator"], say),
                                              _fabric_upgrade(net, s, say), _write_report(s, report, say)))
            say(f"  time  story ({len(story.steps)} steps, incl. the peer lifecycle upgrade): "
                f"{time.monotonic() - t1:.1f} s")
            _fabric_genesis_nodes(net.layout, say)
            t2 = time.monotonic()
    except NetworkError as exc:
        raise CliError(f"fabric network: {' '.join(str(exc).split())}") from exc
    finally:
        left = [p.name for p in procs.read_pids(out) if procs.alive(p.pid)]
        if keep:
            say(f"fabric network kept running in {out}; connection profiles in {out / 'connection-profiles'}; "
                f"stop it with `scripts/network.sh down --dir {out}`")
            if story is not None:
                _keep_keys(out, story, say)
        elif not left:
            say("fabric network stopped" + ("" if temporary else f" (files kept in {out})"))
            if temporary:
                shutil.rmtree(out.parent, ignore_errors=True)
    if left and not keep:
        raise CliError(f"processes left running under {out}: {', '.join(left)}")
    down = "" if keep else f"network down: {time.monotonic() - t2:.1f} s; "
    say(f"  time  {down}total {time.monotonic() - t0:.1f} s")
    return story


def _keep_keys(out: Path, story: Any, say: Any) -> None:
    """With --keep: each org admin's registered SM2 key as ``OUT/keys/<org>.pem`` (mode 0600, like the
    network's other private keys), so the kept network can be driven further, and the next commands."""
    keys = out / "keys"
    keys.mkdir(mode=0o700, exist_ok=True)
    for name, org in story.orgs.items():
        path = keys / f"{name.lower()}.pem"
        path.write_bytes(org.key.to_pem())
        path.chmod(0o600)
    profile = out / "connection-profiles" / "connection-regulator.json"
    say(f"org admins' registered SM2 keys in {keys}; next, e.g. the ingestion benchmark on this network:")
    say(f"  qcchain bench ingest --profile {profile} --key {keys / 'regulator.pem'} --duration 60 --json")


def _fabric_genesis_nodes(layout: Any, say: Any) -> None:
    """Record every initial orderer and peer in the on-chain node registry with one genesis admission,
    signed with the test admins' SM2 keys (T-7.2.3).

    Raises:
        CliError: the chain refused it. NetworkError: the test keys or the registry are unavailable.
    """
    from qcchain_network.testadmins import admit_genesis
    from qcchain_gateway.errors import SdkError

    t0 = time.monotonic()
    try:
        proposal_id, count = admit_genesis(layout)
    except SdkError as exc:
        raise CliError(f"node registry: genesis admission refused: {' '.join(str(exc).split())}") from exc
    say(f"  ok  node registry: {count} genesis nodes (orderers and peers) admitted on chain with one proposal "
        f"({proposal_id[:12]}) signed by the test admins: {time.monotonic() - t0:.1f} s")


def _fabric_upgrade(net: Any, story: Any, say: Any) -> None:
    """The whole chaincode's upgrade on Fabric: governed (majority, v2 package digest on chain), after which
    the running v1 package refuses business calls; then ``peer lifecycle`` install / approveformyorg /
    commit (sequence + 1) and the v2 chaincode server, which serves again.

    Raises:
        StoryError: a check did not hold. DeployError / StartError / NotEndorsable: the switch failed.
    """
    from qcchain_network.demo.storyrunner import upgrade_chaincode
    from qcchain_sdk.contracts.story import EQ, StoryError

    v2 = net.digests[1]
    story.govern("upgrade", story.majority, version="2", package_digest=v2)
    try:
        story.reg.records().get(EQ)
    except Exception as exc:  # noqa: BLE001 - the refusal is the point; its text is checked
        if "not the approved version" not in " ".join(f"{exc} {getattr(exc, 'details', '')}".split()):
            raise StoryError(f"step 'peer lifecycle upgrade': refused for another reason: {exc}") from exc
    else:
        raise StoryError("step 'peer lifecycle upgrade': the v1 package still serves after the governed upgrade")
    seconds = upgrade_chaincode(net)
    if story.reg.records().get(EQ).get("record_id") != EQ:
        raise StoryError("step 'peer lifecycle upgrade': the v2 package does not serve the records")
    story.done(f"whole chaincode upgraded to v2: v1 refused business calls once governance approved v2; "
               f"peer lifecycle install/approve x{len(net.channel.members)}/commit (sequence {net.sequence}) "
               f"and the v2 server switched in {seconds:.1f} s; records serve again")
