"""The business contracts form a ladder: base -> store -> rules -> contract fronts (see qcchain_contracts/__init__).

Every module imports only modules of its own rung or below; contract fronts import no other front; no
module of the package is imported inside a function; ``Contract`` subclasses live only in fronts. A module
not listed here is a front if it defines a ``Contract`` subclass, otherwise it must be given a rung.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import qcchain_contracts

PACKAGE = "qcchain_contracts"
ROOT = Path(qcchain_contracts.__file__).resolve().parent
BASE, STORE, RULES, FRONT, ENTRY = 0, 1, 2, 3, 4
RUNGS = {
    "errors": BASE, "common": BASE, "schemas": BASE,
    "grading_rules": RULES, "masking": RULES, "sharing_rules": RULES, "lifecycle": RULES, "signatures": RULES, "policy_rules": RULES,
    "noderegistry": RULES, "channeldecisions": RULES, "device_rules": RULES, "warning_rules": RULES, "warning_reminders": RULES, "proposals": RULES, "placement": RULES, "entitlement": RULES, "clock": RULES,
    "fabricpolicy": RULES, "fabricproof": RULES, "bundleverify": RULES, "crosssources": RULES, "crosschain_block": RULES, "crosschain_ingest": RULES, "ingest_sealing": RULES, "crosschain_attest": RULES, "crosschain": FRONT,
    "governance": FRONT, "keyregistry": FRONT, "grading": FRONT, "records": FRONT, "sharing": FRONT, "audit": FRONT, "ingest": FRONT,
    "devices": FRONT, "warnings": FRONT,
    "": ENTRY, "__main__": ENTRY,
}


def _name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(parts)


def _defines_contract(tree: ast.Module) -> bool:
    return any(isinstance(node, ast.ClassDef) and any(getattr(b, "id", None) == "Contract" for b in node.bases)
               for node in tree.body)


def _modules() -> dict[str, ast.Module]:
    return {_name(path): ast.parse(path.read_text(encoding="utf-8")) for path in sorted(ROOT.rglob("*.py"))}


def _rung(name: str, tree: ast.Module) -> int:
    if name == "store" or name.startswith("store."):
        return STORE
    if name in RUNGS:
        return RUNGS[name]
    if _defines_contract(tree):
        return FRONT
    raise AssertionError(f"{PACKAGE}.{name} has no rung: add it to RUNGS in {__file__}")


def _imports(name: str, tree: ast.Module, is_package: bool) -> list[tuple[str, ast.AST]]:
    """(package-relative module imported, node) for every import of this package's modules."""
    here = name.split(".") if name else []
    package = here if is_package else here[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                stem = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == PACKAGE:
                stem = node.module.split(".")[1:]
            else:
                continue
            for alias in node.names:
                target = ".".join(stem + [alias.name])
                out.append((target if (ROOT / Path(*stem, alias.name)).with_suffix(".py").exists()
                            or (ROOT / Path(*stem, alias.name)).is_dir() else ".".join(stem), node))
        elif isinstance(node, ast.Import):
            out += [(a.name.split(".", 1)[1] if "." in a.name else "", node)
                    for a in node.names if a.name.split(".")[0] == PACKAGE]
    return out


def _edges() -> list[tuple[str, int, str, int, ast.AST]]:
    modules = _modules()
    rungs = {name: _rung(name, tree) for name, tree in modules.items()}
    edges = []
    for name, tree in modules.items():
        is_package = (ROOT / Path(*name.split(".")) / "__init__.py").exists() if name else True
        for target, node in _imports(name, tree, is_package):
            if target in ("", name) or name.startswith(target + ".") or target == "store":
                continue
            edges.append((name, rungs[name], target, rungs[target], node))
    return edges


def test_every_module_has_a_rung() -> None:
    for name, tree in _modules().items():
        _rung(name, tree)


def test_imports_go_down_the_ladder() -> None:
    upward = [f"{src} (rung {rs}) -> {dst} (rung {rd})" for src, rs, dst, rd, _ in _edges() if rd > rs]
    assert not upward, "imports up the ladder:\n" + "\n".join(upward)


def test_fronts_import_no_other_front() -> None:
    across = [f"{src} -> {dst}" for src, rs, dst, rd, _ in _edges() if rs == rd == FRONT]
    assert not across, across


def test_store_modules_import_only_base_and_store() -> None:
    bad = [f"{src} -> {dst}" for src, rs, dst, rd, _ in _edges() if rs == STORE and rd not in (BASE, STORE)]
    assert not bad, bad


def test_no_function_level_imports_of_the_package() -> None:
    inside = []
    for name, tree in _modules().items():
        for func in ast.walk(tree):
            if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(func):
                    if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith(PACKAGE)):
                        inside.append(f"{name}.{func.name}: line {node.lineno}")
    assert not inside, inside


@pytest.mark.parametrize("name", sorted(n for n, r in RUNGS.items() if r < FRONT))
def test_contract_classes_only_in_fronts(name: str) -> None:
    assert not _defines_contract(_modules()[name]), f"{name} is not a front but defines a Contract"


def test_contract_classes_are_the_fronts() -> None:
    served = {cls.__module__.split(".", 1)[1] for cls in qcchain_contracts.contract_classes()}
    fronts = {name for name, tree in _modules().items() if _rung(name, tree) == FRONT}
    assert served == fronts
