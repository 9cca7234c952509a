"""``qcchain warnings``, ``qcchain devices`` and ``qcchain iot`` (issue 15): four-colour warnings and their
closed loop, monitoring devices and their MQTT credentials, the simulated fleet and the consumer.

Chain commands talk to the ``qcchain`` chaincode through a connection profile (``--profile``, ``--user``,
``--channel``) and print JSON. Device passwords are printed once, never logged; the consumer's password
is read from the environment variable named by ``--password-env`` (here, at the entry point).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import click

from . import warnings_remind
from .errors import CliError
from .iotcommon import ROOT, _chain_options, _connect, _evidence, _policy, _run, _setup, _wclient

log = logging.getLogger(__name__)

__all__ = ["warnings", "devices", "iot"]

# ---- warnings --------------------------------------------------------------------------------------------
@click.group()
@_chain_options
def warnings(ctx: click.Context, **options: Any) -> None:
    """Four-colour warnings: list, show, ack, dispose, verify, close, escalate."""
    _setup(ctx, options)


@warnings.command("list")
@click.option("--status", default="", help="raised | acknowledged | disposing | disposed | verified | closed")
@click.option("--colour", default="", type=click.Choice(["", "blue", "yellow", "orange", "red"]))
@click.option("--responsible", default="", help="Responsible unit's MSP id.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 500))
@click.pass_context
def list_(ctx: click.Context, status: str, colour: str, responsible: str, limit: int) -> None:
    """Warnings (without their history)."""
    _run(lambda: _wclient(ctx).list(status, colour, responsible, limit))


@warnings.command()
@click.argument("warning_id")
@click.pass_context
def show(ctx: click.Context, warning_id: str) -> None:
    """One warning with its full history."""
    _run(lambda: _wclient(ctx).get(warning_id))


def _step_command(name: str, step: str, doc: str, evidence_required: bool) -> None:
    @warnings.command(name, help=doc)
    @click.argument("warning_id")
    @click.option("--note", default=None, help="What was done / found." + (" Required." if evidence_required else ""))
    @click.option("--digest", "digests", multiple=True, help="Hex SM3/SHA-256 of an evidence document (repeatable).")
    @click.option("--file", "files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="Evidence file: its SHA-256 is attached (repeatable).")
    @click.pass_context
    def command(ctx: click.Context, warning_id: str, note: str | None, digests: tuple[str, ...],
                files: tuple[Path, ...]) -> None:
        evidence = _evidence(note, digests, files)
        if evidence_required and not evidence.get("digests"):
            raise CliError(f"{name} needs --note and at least one --digest or --file")
        client = _wclient(ctx)
        if step == "dispose":
            def both() -> Any:
                if client.get(warning_id)["status"] == "acknowledged":
                    client.step("start", warning_id, {})
                return client.step("dispose", warning_id, evidence)
            _run(both)
        else:
            _run(lambda: client.step(step, warning_id, evidence))


_step_command("ack", "acknowledge", "Acknowledge a warning (the responsible unit).", False)
_step_command("start", "start", "Start disposing of an acknowledged warning (the responsible unit).", False)
_step_command("dispose", "dispose", "Record the disposal with evidence (the responsible unit; starts it first "
              "when the warning is only acknowledged).", True)
_step_command("verify", "verify", "Verify a disposal with evidence (a regulator or inspection body).", True)
_step_command("close", "close", "Close a verified warning (a regulator or inspection body).", False)


@warnings.command()
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 200))
@click.pass_context
def escalate(ctx: click.Context, limit: int) -> None:
    """Escalate every warning past its deadline (by the transaction time)."""
    _run(lambda: _wclient(ctx).escalate_overdue(limit))


# ---- devices ---------------------------------------------------------------------------------------------
@click.group()
@_chain_options
def devices(ctx: click.Context, **options: Any) -> None:
    """Monitoring devices: register, list, show, revoke, credentials."""
    _setup(ctx, options)


def _dclient(ctx: click.Context) -> Any:
    from qcchain_sdk.contracts.warnings import DevicesClient

    return DevicesClient(_connect(ctx))


def _store(directory: Path) -> Any:
    from qcchain_iot.credentials import CredentialStore

    return CredentialStore(directory)


@devices.command()
@click.argument("device_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--credentials", "cred_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Broker credential directory (Mosquitto passwd + ACL).")
@click.option("--org", required=True, help="Org segment of the device's telemetry topic.")
@click.pass_context
def register(ctx: click.Context, device_file: Path, cred_dir: Path, org: str) -> None:
    """Register a device (JSON: device_id, reg_no, device_type, statistics, basic, maintenance) and issue
    its MQTT credential; the password is printed once."""
    from qcchain_iot.errors import CredentialError

    try:
        doc = json.loads(device_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read the device record {device_file}: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("device_id"), str):
        raise CliError(f"{device_file}: a device record is a JSON object with a device_id")
    store = _store(cred_dir)
    try:
        password = store.issue(doc["device_id"], org, device_type=str(doc.get("device_type", "")),
                               reg_no=str(doc.get("reg_no", "")))
    except CredentialError as exc:
        raise CliError(str(exc)) from exc
    doc["credential_sha256"] = hashlib.sha256(store.credential_hash(doc["device_id"]).encode()).hexdigest()

    def call() -> Any:
        from qcchain_gateway.errors import SdkError

        try:
            stored = _dclient(ctx).register(doc)
        except SdkError:
            store.revoke(doc["device_id"])   # the chain refused: the credential must not stay usable
            raise
        return {"device": stored, "password": password}
    _run(call)


@devices.command("list")
@click.option("--reg-no", default="", help="Only the devices of this equipment code.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@click.pass_context
def list_devices(ctx: click.Context, reg_no: str, limit: int) -> None:
    """Registered devices."""
    _run(lambda: _dclient(ctx).list(reg_no, limit))


@devices.command("show")
@click.argument("device_id")
@click.pass_context
def show_device(ctx: click.Context, device_id: str) -> None:
    """One device record."""
    _run(lambda: _dclient(ctx).get(device_id))


@devices.command()
@click.argument("device_id")
@click.option("--reason", required=True)
@click.option("--credentials", "cred_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also revoke its broker credential here.")
@click.pass_context
def revoke(ctx: click.Context, device_id: str, reason: str, cred_dir: Path | None) -> None:
    """Revoke a device on chain (and its broker credential)."""
    def call() -> Any:
        out = _dclient(ctx).revoke(device_id, reason)
        if cred_dir is not None:
            _store(cred_dir).revoke(device_id)
        return out
    _run(call)


@devices.command()
@click.argument("device_id")
@click.option("--credentials", "cred_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--org", default=None, help="Org segment (for a new account).")
@click.option("--consumer", is_flag=True, help="A consumer account (reads all telemetry of the broker).")
@click.option("--kind", type=click.Choice(["device", "consumer", "notifier", "listener"]), default=None,
              help="Account kind: notifier writes, listener reads qcchain/<org>/notifications (default device).")
@click.option("--revoke", "do_revoke", is_flag=True, help="Revoke the account instead.")
def credentials(device_id: str, cred_dir: Path, org: str | None, consumer: bool, kind: str | None,
                do_revoke: bool) -> None:
    """Issue / rotate (password printed once) or revoke a broker account. Offline: no chain call."""
    from qcchain_iot.errors import CredentialError

    store = _store(cred_dir)
    try:
        if do_revoke:
            store.revoke(device_id)
            click.echo(json.dumps({"device_id": device_id, "status": "revoked"}))
            return
        if org is None:
            known = store.entries().get(device_id)
            if known is None:
                raise CliError("--org is required for a new account")
            org = known.org
        if consumer and kind not in (None, "consumer"):
            raise CliError("--consumer and --kind disagree")
        password = store.issue(device_id, org, kind=kind or ("consumer" if consumer else "device"))
    except CredentialError as exc:
        raise CliError(str(exc)) from exc
    click.echo(json.dumps({"device_id": device_id, "password": password}))


# ---- iot -------------------------------------------------------------------------------------------------
def _address(broker: str, ca: Path | None) -> Any:
    from qcchain_iot.consumer import BrokerAddress

    scheme, _, rest = broker.partition("://")
    host, _, port = rest.rpartition(":")
    if scheme not in ("mqtt", "mqtts") or not host or not port.isdigit():
        raise CliError(f"--broker {broker!r}: expected mqtts://HOST:PORT (or mqtt://)")
    if scheme == "mqtts" and ca is None:
        raise CliError("--ca is required for mqtts:// (the broker's CA certificate)")
    return BrokerAddress(host, int(port), str(ca) if scheme == "mqtts" else None)


@click.group()
def iot() -> None:
    """IoT telemetry: simulate a device fleet, run the consumer + detector + chain relay."""


@iot.command()
@click.option("--broker", required=True, help="mqtts://HOST:PORT")
@click.option("--ca", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option("--credentials", "cred_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Credential directory: the simulated devices' accounts are (re)issued here.")
@click.option("--org", default="UsingUnit", show_default=True)
@click.option("--devices", "count", default=4, show_default=True, type=click.IntRange(1, 1000))
@click.option("--series", "profiles", multiple=True, default=("climb", "normal", "spiky", "stuck"),
              show_default=True, help="Series profiles, assigned round robin (climb, normal, spiky, stuck).")
@click.option("--readings", default=300, show_default=True, type=click.IntRange(1))
@click.option("--period-ms", default=1000, show_default=True, type=click.IntRange(0))
@click.option("--seed", default=1, show_default=True)
def simulate(broker: str, ca: Path | None, cred_dir: Path, org: str, count: int, profiles: tuple[str, ...],
             readings: int, period_ms: int, seed: int) -> None:
    """Replay realistic series (noise, a pressure climb, spikes, a stuck sensor) from a device fleet."""
    from qcchain_iot.errors import BrokerError
    from qcchain_iot.simulate import PROFILES, SimDevice, publish_device, values

    bad = [p for p in profiles if p not in PROFILES]
    if bad:
        raise CliError(f"unknown profile(s) {', '.join(bad)}; known: {', '.join(sorted(PROFILES))}")
    address, store = _address(broker, ca), _store(cred_dir)
    fleet = [SimDevice(org, f"sim{i:03d}", store.issue(f"sim{i:03d}", org, device_type="pressure_vessel"))
             for i in range(count)]
    sent: dict[str, int] = {}
    errors: list[str] = []

    def one(i: int, dev: Any) -> None:
        try:
            series = list(values(PROFILES[profiles[i % len(profiles)]], readings, max(period_ms, 1) / 1000, seed + i))
            sent[dev.device_id] = publish_device(address, dev, series, period_ms=period_ms)
        except BrokerError as exc:
            errors.append(str(exc))
    threads = [threading.Thread(target=one, args=(i, d)) for i, d in enumerate(fleet)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    click.echo(json.dumps({"sent": sent, "errors": errors}, sort_keys=True))
    if errors:
        raise CliError(errors[0])


@iot.command()
@click.option("--broker", required=True, help="mqtts://HOST:PORT")
@click.option("--ca", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option("--credentials", "cred_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--consumer", "consumer_id", default="consumer1", show_default=True)
@click.option("--password-env", default="QCCHAIN_IOT_PASSWORD", show_default=True,
              help="Environment variable holding the consumer's broker password.")
@click.option("--db", default="sqlite:///iot.db", show_default=True, help="SQLAlchemy URL of the time-series store.")
@click.option("--schema", default=None, help="PostgreSQL schema.")
@click.option("--policy", "policy_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=ROOT / "policies" / "warnings.yaml", show_default=True)
@click.option("--responsible", default=None, help="MSP id owning the devices (enables the chain relay).")
@click.option("--seconds", default=0.0, type=click.FloatRange(0), help="Stop after this long (0: until Ctrl-C).")
@_chain_options
def run(ctx: click.Context, broker: str, ca: Path | None, cred_dir: Path, consumer_id: str, password_env: str,
        db: str, schema: str | None, policy_file: Path, responsible: str | None, seconds: float, **options: Any) -> None:
    """Consume telemetry (QoS 1, persistent session), detect, store; with --profile and --responsible,
    anchor window roots and relay warnings to the chain."""
    from qcchain_iot.chain import ChainAnchor, WarningRelay
    from qcchain_iot.consumer import Consumer, now_ms
    from qcchain_iot.errors import IotError
    from qcchain_iot.pipeline import Pipeline
    from qcchain_iot.store import open_store
    from qcchain_iot.windows import anchor_pending, seal_windows
    from qcchain_sdk.contracts.warnings import DevicesClient, WarningsClient

    from .proclogs import process_logs

    process_logs("iot-consumer")
    _setup(ctx, options)
    password = os.environ.get(password_env)
    if not password:
        raise CliError(f"set {password_env} to the consumer's broker password")
    policy = _policy(policy_file)
    try:
        engine = open_store(db, schema)
        pipe = Pipeline(engine, policy, _store(cred_dir).active_devices())
        ticks = [(5.0, lambda: pipe.heartbeat(now_ms()))]
        if responsible and options.get("profile"):
            contract = _connect(ctx)
            relay = WarningRelay(engine, WarningsClient(contract), responsible)
            anchor = ChainAnchor(DevicesClient(contract))
            ticks += [(0.2, lambda: relay.relay()),
                      (10.0, lambda: (seal_windows(engine, policy, now_ms()), anchor_pending(engine, anchor)))]
        stop = threading.Event()
        if seconds:
            threading.Timer(seconds, stop.set).start()
        consumer = Consumer(pipe, _address(broker, ca), consumer_id, password, ticks=ticks)
        try:
            consumer.run(stop)
        except KeyboardInterrupt:
            stop.set()
    except IotError as exc:
        raise CliError(str(exc)) from exc


@iot.command()
@click.option("--role", required=True, help="Your org's consortium role (events addressed to it are delivered too).")
@click.option("--webhook", default=None, help="URL: each notification is POSTed as JSON (2xx = delivered).")
@click.option("--mqtt-topic", default=None,
              help="qcchain/<org>/notifications (the only topic a notifier account may write): each "
                   "notification is published with QoS 1.")
@click.option("--broker", default=None, help="mqtts://HOST:PORT of the broker for --mqtt-topic.")
@click.option("--ca", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option("--mqtt-user", default="qcchain-notifier", show_default=True,
              help="A notifier account (devices credentials --kind notifier).")
@click.option("--password-env", default="QCCHAIN_NOTIFY_MQTT_PASSWORD", show_default=True,
              help="Variable holding the MQTT password.")
@click.option("--state", "state_dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".qcchain-notify"),
              show_default=True, help="Directory of the event checkpoint and the delivered log.")
@click.option("--seconds", default=0.0, type=click.FloatRange(0), help="Stop when no event came for this long (0: run on).")
@_chain_options
def notify(ctx: click.Context, role: str, webhook: str | None, mqtt_topic: str | None, broker: str | None,
           ca: Path | None, mqtt_user: str, password_env: str, state_dir: Path, seconds: float, **options: Any) -> None:
    """Deliver your org's warning events (chaincode events ``qcchain.warning``) to a webhook and/or an MQTT
    topic, at least once: resumed from the event checkpoint, each (warning, step) delivered once."""
    from qcchain_gateway.checkpoint import FileCheckpointer
    from qcchain_gateway.errors import SdkError
    from qcchain_gateway.profile import connect_profile
    from qcchain_iot.errors import IotError
    from qcchain_iot.notify import MqttSink, Notifier, WebhookSink

    _setup(ctx, options)
    if not webhook and not mqtt_topic:
        raise CliError("give --webhook URL and/or --mqtt-topic TOPIC")
    sinks: list[Any] = [WebhookSink(webhook)] if webhook else []
    if mqtt_topic:
        password = os.environ.get(password_env)
        if not broker or not password:
            raise CliError(f"--mqtt-topic needs --broker and the password in {password_env}")
        sinks.append(MqttSink(_address(broker, ca), mqtt_topic, mqtt_user, password))
    if ctx.obj.get("profile") is None:
        raise CliError("--profile is required (your org's connection profile JSON)")
    state_dir.mkdir(parents=True, exist_ok=True)
    gateway = connect_profile(ctx.obj["profile"], user=ctx.obj["user"])
    try:
        notifier = Notifier(gateway.identity.msp_id, role, sinks, FileCheckpointer(state_dir / "checkpoint.json"),
                            state_dir / "delivered.log")
        with gateway.get_network(ctx.obj["channel"]).get_chaincode_events(
                ctx.obj["chaincode"], start_block=0, checkpoint=notifier.checkpointer,
                timeout=seconds or None) as events:
            click.echo(f"delivered {notifier.run(events)} notification(s)")
    except (IotError, SdkError) as exc:
        raise CliError(" ".join(str(exc).split())) from exc
    finally:
        for sink in sinks:
            getattr(sink, "close", lambda: None)()
        gateway.close()


warnings.add_command(warnings_remind.remind)
warnings.add_command(warnings_remind.resolve_reminder, name="resolve-reminder")
