"""``qcchain contract create``: scaffold a Python contract project on :mod:`qcchain_shim`.

The project (``<dir>/<name>/``)::

    contract.json            name, version, module, chaincode server address (read by compile)
    <name>/__init__.py       the Contract class (a governed key-value asset register)
    <name>/governance.py     require_serving: asks the governance chaincode (``qcchain``) on the same
                             channel whether this chaincode is active / frozen / destroyed and whether
                             the running package is the approved one
    <name>/__main__.py       ``python -m <name>``: serves the contract as CCaaS (CHAINCODE_SERVER_ADDRESS,
                             CHAINCODE_ID)
    tests/test_<name>.py     MockStub tests (run with pytest from the project directory)

The generated code passes :mod:`qcchain_sdk.contractproject.review` with no finding.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ..errors import ProjectError, ScaffoldError
from .package import PROJECT_FILE, check_name

log = logging.getLogger(__name__)

__all__ = ["create", "DEFAULT_ADDRESS"]

DEFAULT_ADDRESS = "127.0.0.1:9999"

INIT = '''"""{name}: a governed key-value asset register (created by ``qcchain contract create``)."""

from __future__ import annotations

from qcchain_shim import ChaincodeError, Context, Contract, transaction

from .governance import require_serving

__all__ = ["{cls}"]

WRITES = ("put", "delete")


class {cls}(Contract):
    """``{name}:*`` — put / get / delete assets; every call first passes the governance check."""

    name = "{name}"

    def __init__(self, package_digest: str = "") -> None:
        self.package_digest = package_digest  # set once at start from CHAINCODE_ID; never changed

    def before_transaction(self, ctx: Context) -> None:
        fn, _ = ctx.stub.get_function_and_parameters()
        require_serving(ctx, write=fn.split(":")[-1] in WRITES, package_digest=self.package_digest)

    @transaction
    def put(self, ctx: Context, key: str, value: str) -> dict:
        """Store ``value`` under ``key``. Raises ChaincodeError on an empty key."""
        if not key:
            raise ChaincodeError("key must not be empty", status=400)
        ctx.stub.put_state(ctx.stub.create_composite_key("{name}.asset", [key]), value.encode("utf-8"))
        return {{"key": key, "tx_id": ctx.stub.get_tx_id()}}

    @transaction(evaluate=True)
    def get(self, ctx: Context, key: str) -> str:
        """The value under ``key``. Raises ChaincodeError (404) when absent."""
        value = ctx.stub.get_state(ctx.stub.create_composite_key("{name}.asset", [key]))
        if not value:
            raise ChaincodeError(f"asset {{key!r}} does not exist", status=404)
        return value.decode("utf-8")

    @transaction
    def delete(self, ctx: Context, key: str) -> dict:
        """Delete ``key``. Raises ChaincodeError (404) when absent."""
        composite = ctx.stub.create_composite_key("{name}.asset", [key])
        if not ctx.stub.get_state(composite):
            raise ChaincodeError(f"asset {{key!r}} does not exist", status=404)
        ctx.stub.del_state(composite)
        return {{"key": key, "deleted": True}}
'''

GOVERNANCE = '''"""Governance check of {name}: the consortium's governance chaincode decides whether it serves.

The governed unit is ``(channel, "{name}", "")``; its record comes from ``governance:unit`` of the
``{gov}`` chaincode on the same channel (a chaincode-to-chaincode query: deterministic, read-only).
"""

from __future__ import annotations

import json

from qcchain_shim import ChaincodeError, Context

GOVERNANCE_CHAINCODE = "{gov}"
CHAINCODE = "{name}"


def require_serving(ctx: Context, write: bool, package_digest: str = "") -> None:
    """Refuse unless governance approved this chaincode (and, if known, this package).

    Raises:
        ChaincodeError: not deployed through governance (403), destroyed (410), frozen for writes (423),
            running package not the approved one (403), governance unreachable (503).
    """
    args = [b"governance:unit", ctx.stub.get_channel_id().encode(), CHAINCODE.encode(), b""]
    response = ctx.stub.invoke_chaincode(GOVERNANCE_CHAINCODE, args)
    if response.status == 404:
        raise ChaincodeError(f"{{CHAINCODE}} is not deployed through governance on this channel", status=403)
    if response.status >= 400:
        raise ChaincodeError(f"governance check failed: {{response.message}}", status=503)
    unit = json.loads(response.payload)
    if unit["state"] == "destroyed":
        raise ChaincodeError(f"{{CHAINCODE}} was destroyed by governance", status=410)
    if unit["state"] == "proposed":
        raise ChaincodeError(f"{{CHAINCODE}} is proposed but not approved yet", status=403)
    if unit["state"] == "frozen" and write:
        raise ChaincodeError(f"{{CHAINCODE}} is frozen by governance: writes are refused", status=423)
    approved = unit["versions"].get(unit["active_version"], {{}}).get("package_digest", "")
    if package_digest and approved != package_digest:
        raise ChaincodeError(f"the running package is not the approved version {{unit['active_version']}}", status=403)
'''

MAIN = '''"""``python -m {name}``: serve the {name} contract as chaincode-as-a-service."""

from __future__ import annotations

import logging
import os
import re
import sys


def main() -> None:
    """Serve until SIGTERM/SIGINT; exit 2 on a configuration error."""
    from qcchain_shim import serve
    from qcchain_shim.errors import ConfigError
    from qcchain_shim.server import config_from_env

    from . import {cls}

    logging.basicConfig(level=os.environ.get("QCCHAIN_LOG_LEVEL", "INFO"))
    try:
        config = config_from_env()
    except ConfigError as exc:
        print(f"{name}: {{exc}}", file=sys.stderr)
        sys.exit(2)
    match = re.match(r"^[A-Za-z0-9_.+-]+:([0-9a-f]{{64}})$", config.chaincode_id or "")
    serve([{cls}(match.group(1) if match else "")], config)


if __name__ == "__main__":
    main()
'''

TEST = '''"""MockStub tests of {name} (``python -m pytest tests`` from the project directory)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qcchain_shim import Response  # noqa: E402
from qcchain_shim.testing import MockStub  # noqa: E402

from {name} import {cls}  # noqa: E402

ADMIN = ("Org1MSP", b"")


def governed(state: str, digest: str = "") -> MockStub:
    stub = MockStub("qcchannel")
    unit = {{"state": state, "active_version": "1", "versions": {{"1": {{"package_digest": digest}}}}}}
    stub.register_chaincode("{gov}", lambda args: Response(200, "", json.dumps(unit).encode()))
    return stub


def test_put_then_get_when_active() -> None:
    stub = governed("active")
    assert stub.submit([{cls}()], "{name}:put", ["k1", "v1"], creator=ADMIN).ok
    assert stub.invoke([{cls}()], "{name}:get", ["k1"], creator=ADMIN).payload == b"v1"


def test_frozen_refuses_writes_but_serves_reads() -> None:
    stub = governed("active")
    stub.submit([{cls}()], "{name}:put", ["k1", "v1"], creator=ADMIN)
    frozen = governed("frozen")
    frozen.state = stub.state
    response = frozen.invoke([{cls}()], "{name}:put", ["k1", "v2"], creator=ADMIN)
    assert response.status == 423 and "frozen" in response.message


def test_wrong_package_is_refused() -> None:
    stub = governed("active", digest="a" * 64)
    response = stub.invoke([{cls}("b" * 64)], "{name}:put", ["k", "v"], creator=ADMIN)
    assert response.status == 403 and "approved" in response.message
'''


def _class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_") if part) + "Contract"


def create(name: str, parent: Path, address: str = DEFAULT_ADDRESS, governance_chaincode: str = "qcchain") -> Path:
    """Write a new contract project ``<parent>/<name>`` and return its directory.

    Raises:
        ProjectError: ``name`` is not a valid contract name.
        ScaffoldError: the target exists and is not empty, or cannot be written.
    """
    check_name(name)
    if name in ("qcchain_shim", "qcchain_contracts", "tests", "test"):
        raise ProjectError(f"contract name {name!r} is reserved")
    root = Path(parent) / name
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ScaffoldError(f"{root} already exists and is not empty; choose another name or --dir")
    values = {"name": name, "cls": _class_name(name), "gov": governance_chaincode}
    files = {
        PROJECT_FILE: json.dumps({"name": name, "version": "1.0", "module": name, "address": address}, indent=2) + "\n",
        f"{name}/__init__.py": INIT.format(**values),
        f"{name}/governance.py": GOVERNANCE.format(**values),
        f"{name}/__main__.py": MAIN.format(**values),
        f"tests/test_{name}.py": TEST.format(**values),
    }
    try:
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ScaffoldError(f"cannot write {root}: {exc.strerror}") from exc
    log.info("created contract project %s", name)
    return root
