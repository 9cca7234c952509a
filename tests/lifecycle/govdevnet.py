"""A fresh devnet with governance bootstrapped, for CLI tests of governed proposals: five org-admin SM2 keys in
an encrypted keystore, members and policies on chain, every admin's ``govern`` key registered."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from click.testing import CliRunner, Result

from qcchain_cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
CHANNEL = "qcchannel"
ORGS = ("Regulator", "Inspection", "UsingUnit", "Manufacturer", "Maintenance")


def _bootstrap(profiles: dict[str, Path], keystore: Path, password: Path) -> None:
    """Members and policies on chain (the demo's first step, via the SDK), then each org admin registers
    its SM2 ``govern`` key with ``qcchain contract register-key``."""
    from qcchain_cli.demo import consortium_members, load_policies
    from qcchain_sdk.contracts.governance import GovernanceClient
    from qcchain_gateway.keystore import FileKeystore
    from qcchain_gateway.profile import connect_profile

    members = consortium_members(None, print)
    with connect_profile(profiles["Regulator"]) as gateway:
        net = gateway.get_network(CHANNEL)
        key = FileKeystore(keystore).get("Regulator-admin", password.read_text().strip().encode())
        client = GovernanceClient(net.get_contract("qcchain", "governance"), net.get_contract("qcchain", "keys"),
                                  gateway.identity.msp_id, gateway.identity.cert_pem, key)  # type: ignore[arg-type]
        client.bootstrap([{"msp_id": f"{n}MSP", "role": m["role"], "name": m["full_name"] or n,
                           "credit_code": m["credit_code"]} for n, m in members.items()], load_policies(ROOT / "policies"))
    for name, profile in profiles.items():
        result = CliRunner().invoke(cli, ["contract", "register-key", "--key", f"{name}-admin", "--profile", str(profile),
                                          "--keystore", str(keystore), "--password-file", str(password)])
        assert result.exit_code == 0 and f"for {name}MSP (govern, sign, encrypt)" in result.output, result.output


@contextmanager
def governed_devnet(tmp: Path) -> Iterator[tuple[dict[str, Path], Path, Path]]:
    """Yield (connection profile per org, keystore dir, password file) of a running, bootstrapped devnet."""
    from qcchain_devnet.daemon import UpOptions, running_devnet

    keystore, password = tmp / "keystore", tmp / "password"
    password.write_text("correct horse battery staple\n")
    for org in ORGS:
        result = CliRunner().invoke(cli, ["keys", "generate", f"{org}-admin", "--keystore", str(keystore),
                                          "--password-file", str(password)])
        assert result.exit_code == 0, result.output
    state = tmp / "devnet"
    with running_devnet(UpOptions(state_dir=state, port=0, chaincode_module="qcchain_contracts")):
        info = json.loads((state / "devnet.json").read_text())
        profiles = {k: Path(v) for k, v in info["connection_profiles"].items()}
        _bootstrap(profiles, keystore, password)
        yield profiles, keystore, password


@dataclass
class GovEnv:
    """A governed devnet as the CLI tests drive it: ``run`` prefixes :attr:`prefix`; ``fails`` wants exit code
    :attr:`fail_code` (None: any non-zero); ``sign`` / ``execute`` are ``qcchain contract sign|execute``."""

    tmp: Path
    profiles: dict[str, Path]
    keystore: Path
    password: Path
    prefix: ClassVar[tuple[str, ...]] = ()
    fail_code: ClassVar[int | None] = None

    def run(self, *args: str | Path) -> Result:
        return CliRunner().invoke(cli, [*self.prefix, *map(str, args)])

    def ok(self, *args: str | Path) -> str:
        result = self.run(*args)
        assert result.exit_code == 0, result.output
        return result.output

    def fails(self, *args: str | Path) -> str:
        result = self.run(*args)
        assert (result.exit_code != 0 if self.fail_code is None else result.exit_code == self.fail_code), result.output
        return result.output.strip()

    def sign(self, proposal: Path, org: str) -> str:
        result = CliRunner().invoke(cli, ["contract", "sign", str(proposal), "--key", f"{org}-admin", "--keystore",
                                          str(self.keystore), "--password-file", str(self.password)])
        assert result.exit_code == 0, result.output
        return result.output

    def execute(self, proposal: Path, *orgs: str) -> Result:
        profiles = [a for org in orgs for a in ("--profile", str(self.profiles[org]))]
        return CliRunner().invoke(cli, ["contract", "execute", str(proposal), *profiles])
