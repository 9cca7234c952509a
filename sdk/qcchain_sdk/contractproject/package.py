"""Contract projects and their Fabric ``ccaas`` packages.

A contract project is a directory with ``contract.json`` (``{"name", "version", "module", "address"}``,
written by :func:`qcchain_sdk.contractproject.scaffold.create`) and Python sources. :func:`compile_project`
byte-compiles every source (in memory, nothing written next to the sources), and :func:`build_package`
writes the package ``peer lifecycle chaincode package --lang ccaas`` would produce: a tar.gz holding
``metadata.json`` (``{"type": "ccaas", "label": ...}``) and ``code.tar.gz`` with ``connection.json``
(the chaincode server's address) — plus ``qcchain-sources.json``, the SM3 of every source file, so the
package id (``label:sha256(package)``) that governance approves also binds the code. Tar and gzip
metadata are fixed, so the same project always yields the same package id.

Beside the package, :func:`write_evidence` writes ``<label>.review.json`` (the security review) and
``<label>.verification.json`` (the formal verification report), each canonical JSON naming the package
(label, SHA-256, sources SM3); the deploy/upgrade proposal carries both and signs their SM3
(:func:`read_evidence`, :mod:`qcchain_sdk.proposals.proposalfile`).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import sm3

from ..errors import ProjectError

log = logging.getLogger(__name__)

__all__ = ["Project", "BuiltPackage", "load_project", "source_files", "compile_project", "build_package",
           "read_package", "PROJECT_FILE", "EVIDENCE_FORMAT", "EVIDENCE_KINDS", "evidence_path", "write_evidence",
           "read_evidence", "drop_evidence"]

PROJECT_FILE = "contract.json"
SKIP_DIRS = {"__pycache__", ".venv", "venv", "tests", "build", "dist", ".git", ".pytest_cache"}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,48}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]{0,31}$")
_ADDRESS = re.compile(r"^[A-Za-z0-9.-]+:[0-9]{1,5}$")
EVIDENCE_FORMAT = "qcchain-package-evidence/1"
EVIDENCE_KINDS = ("review", "verification")


@dataclass(frozen=True)
class Project:
    """A contract project: its directory and ``contract.json`` settings."""

    root: Path
    name: str
    version: str
    module: str
    address: str

    @property
    def label(self) -> str:
        """The package label ``<name>_<version>`` (Fabric labels allow letters, digits, ``_.+-``)."""
        return f"{self.name}_{self.version}"


@dataclass(frozen=True)
class BuiltPackage:
    """A written ``ccaas`` package and its identifiers."""

    path: Path
    label: str
    address: str
    sha256: str
    sm3: str
    sources_sm3: str

    @property
    def package_id(self) -> str:
        """Fabric's package id ``label:sha256``."""
        return f"{self.label}:{self.sha256}"


def check_name(name: str) -> str:
    """Check a contract/chaincode name (lower-case letter first, then ``[a-z0-9_]``, ≤ 49 chars).

    Raises:
        ProjectError: the name is not acceptable.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ProjectError(f"contract name {name!r} must start with a lower-case letter and use only a-z, 0-9, _ (max 49)")
    return name


def _checked(settings: dict[str, Any], path: Path) -> dict[str, str]:
    errors = []
    for key, pattern in (("name", _NAME), ("version", _VERSION), ("module", _NAME), ("address", _ADDRESS)):
        value = settings.get(key)
        if not isinstance(value, str) or not pattern.match(value):
            errors.append(f"{key}={value!r}")
    if errors:
        raise ProjectError(f"{path}: invalid or missing {', '.join(errors)}")
    return {key: str(settings[key]) for key in ("name", "version", "module", "address")}


def load_project(root: Path, version: str | None = None, address: str | None = None) -> Project:
    """Read ``root/contract.json``; ``version``/``address`` override its values.

    Raises:
        ProjectError: no such directory or file, not JSON, or an invalid setting.
    """
    path = Path(root) / PROJECT_FILE
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProjectError(f"{path}: cannot read ({exc.strerror}); is {root} a contract project (qcchain contract create)?") from exc
    except ValueError as exc:
        raise ProjectError(f"{path}: not JSON: {exc}") from exc
    if not isinstance(settings, dict):
        raise ProjectError(f"{path}: must be a JSON object")
    if version is not None:
        settings["version"] = version
    if address is not None:
        settings["address"] = address
    good = _checked(settings, path)
    if not (Path(root) / good["module"]).is_dir():
        raise ProjectError(f"{path}: module directory {good['module']!r} not found in {root}")
    return Project(Path(root), good["name"], good["version"], good["module"], good["address"])


def source_files(root: Path) -> list[Path]:
    """Every ``*.py`` under ``root`` except tests, caches and virtualenvs, sorted (relative order is stable).

    Raises:
        ProjectError: ``root`` is not a directory or holds no Python source.
    """
    root = Path(root)
    if not root.is_dir():
        raise ProjectError(f"{root}: not a directory")
    files = sorted(p for p in root.rglob("*.py")
                   if not (set(p.relative_to(root).parts[:-1]) & SKIP_DIRS) and not p.name.startswith("test_"))
    if not files:
        raise ProjectError(f"{root}: no Python source files")
    return files


def compile_project(root: Path) -> dict[str, str]:
    """Byte-compile every source in memory; returns ``{relative path: hex SM3 of the source}``.

    Raises:
        ProjectError: a file cannot be read, is not UTF-8, or does not compile (names file and line).
    """
    digests: dict[str, str] = {}
    for path in source_files(root):
        rel = path.relative_to(root).as_posix()
        try:
            data = path.read_bytes()
            compile(data.decode("utf-8"), str(path), "exec", dont_inherit=True)
        except OSError as exc:
            raise ProjectError(f"{path}: cannot read ({exc.strerror})") from exc
        except UnicodeDecodeError as exc:
            raise ProjectError(f"{path}: not UTF-8 text") from exc
        except SyntaxError as exc:
            raise ProjectError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from exc
        digests[rel] = sm3(data).hex()
    return digests


def _targz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode, info.uname, info.gname = len(data), 0, 0o644, "", ""
            tar.addfile(info, io.BytesIO(data))
    raw = bytearray(buf.getvalue())
    raw[4:8] = b"\0\0\0\0"  # gzip header mtime: deterministic package bytes
    return bytes(raw)


def build_package(project: Project, out_dir: Path, sources: dict[str, str]) -> BuiltPackage:
    """Write ``<out_dir>/<label>.tar.gz`` for ``project`` whose sources hash to ``sources``.

    Raises:
        ProjectError: the output cannot be written.
    """
    manifest = canonical_json({"name": project.name, "version": project.version, "module": project.module,
                               "sources_sm3": sources})
    connection = {"address": project.address, "dial_timeout": "10s", "tls_required": False}
    code = _targz({"connection.json": json.dumps(connection, indent=2).encode(), "qcchain-sources.json": manifest})
    metadata = json.dumps({"type": "ccaas", "label": project.label}).encode()
    data = _targz({"metadata.json": metadata, "code.tar.gz": code})
    path = Path(out_dir) / f"{project.label}.tar.gz"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        raise ProjectError(f"{path}: cannot write the package ({exc.strerror})") from exc
    log.info("packaged %s", project.label)
    return BuiltPackage(path, project.label, project.address, hashlib.sha256(data).hexdigest(), sm3(data).hex(),
                        sm3(manifest).hex())


def read_package(path: Path) -> BuiltPackage:
    """Open a ``ccaas`` package file and return its identifiers (label from metadata.json).

    Raises:
        ProjectError: unreadable, not a tar.gz, no ``metadata.json`` of type ccaas, no ``connection.json``.
    """
    try:
        data = Path(path).read_bytes()
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            meta = json.loads(_member(tar, "metadata.json"))
            code = _member(tar, "code.tar.gz")
        with tarfile.open(fileobj=io.BytesIO(code), mode="r:gz") as inner:
            connection = json.loads(_member(inner, "connection.json"))
            names = inner.getnames()
            manifest = _member(inner, "qcchain-sources.json") if "qcchain-sources.json" in names else b""
    except OSError as exc:
        raise ProjectError(f"{path}: cannot read the package ({exc})") from exc
    except (tarfile.TarError, ValueError, KeyError) as exc:
        raise ProjectError(f"{path}: not a ccaas package ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("type") != "ccaas" or not isinstance(meta.get("label"), str):
        raise ProjectError(f"{path}: metadata.json is not {{'type': 'ccaas', 'label': ...}}")
    return BuiltPackage(Path(path), meta["label"], str(connection.get("address", "")),
                        hashlib.sha256(data).hexdigest(), sm3(data).hex(), sm3(manifest).hex() if manifest else "")


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    handle = tar.extractfile(name)
    if handle is None:
        raise KeyError(f"{name} is not a file")
    return handle.read()


def evidence_path(package: BuiltPackage, kind: str) -> Path:
    """``<package dir>/<label>.<kind>.json`` (kind: ``review`` or ``verification``)."""
    return package.path.with_name(f"{package.label}.{kind}.json")


def write_evidence(package: BuiltPackage, kind: str, passed: bool, summary: str, report: Any) -> dict[str, Any]:
    """Write the ``kind`` report about ``package`` beside it (canonical JSON); returns the document.

    Raises:
        ProjectError: unknown kind, a report that is not canonical JSON, or the file cannot be written.
    """
    if kind not in EVIDENCE_KINDS:
        raise ProjectError(f"evidence kind {kind!r} is not one of {', '.join(EVIDENCE_KINDS)}")
    doc = {"format": EVIDENCE_FORMAT, "kind": kind, "passed": bool(passed), "summary": summary, "report": report,
           "package": {"label": package.label, "sha256": package.sha256, "sources_sm3": package.sources_sm3}}
    path = evidence_path(package, kind)
    try:
        path.write_bytes(canonical_json(doc) + b"\n")
    except ValueError as exc:
        raise ProjectError(f"{kind} report is not canonical JSON: {exc}") from exc
    except OSError as exc:
        raise ProjectError(f"{path}: cannot write the {kind} report ({exc.strerror})") from exc
    return doc


def drop_evidence(package: BuiltPackage, kind: str) -> None:
    """Remove a ``kind`` report left beside the package by an earlier compile (``--no-verify``).

    Raises:
        ProjectError: it exists and cannot be removed.
    """
    try:
        evidence_path(package, kind).unlink(missing_ok=True)
    except OSError as exc:
        raise ProjectError(f"{evidence_path(package, kind)}: cannot remove ({exc.strerror})") from exc


def read_evidence(package: BuiltPackage, kind: str) -> dict[str, Any] | None:
    """The ``kind`` report beside ``package``, or None when there is none.

    Raises:
        ProjectError: unreadable, not a report of this format and kind, or about another package (SHA-256).
    """
    path = evidence_path(package, kind)
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProjectError(f"{path}: cannot read the {kind} report ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != EVIDENCE_FORMAT or doc.get("kind") != kind or \
            not isinstance(doc.get("package"), dict) or not isinstance(doc.get("summary"), str):
        raise ProjectError(f"{path}: not a {EVIDENCE_FORMAT} {kind} report")
    if doc["package"].get("sha256") != package.sha256:
        raise ProjectError(f"{path}: the {kind} report is about another package (SHA-256 "
                           f"{str(doc['package'].get('sha256'))[:16]}…, this one {package.sha256[:16]}…); "
                           "re-run `qcchain contract compile`")
    return doc
