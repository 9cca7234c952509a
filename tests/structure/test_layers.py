"""The import structure of the non-test code: no cycles, and only imports that run down the layer order.

The layer table is read from ``docs/INTERFACES.md`` (the rows between the ``layers`` marker and the next
blank line), so the documented order and the enforced one cannot drift. Imports are read with :mod:`ast`
from the source, function-level imports included.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ["core", "chaincode/shim", "chaincode/model", "chaincode/contracts", "sdk/gateway", "sdk",
               "devnet", "network", "cli"]


def _ranks() -> dict[str, int]:
    text = (ROOT / "docs" / "INTERFACES.md").read_text(encoding="utf-8")
    table = text[text.index("<!-- layers:"):]
    ranks = {}
    for line in table.splitlines()[1:]:
        match = re.match(r"^\|\s*(\d+)\s*\|\s*`(qcchain_\w+)`", line)
        if match:
            ranks[match.group(2)] = int(match.group(1))
    assert ranks, "docs/INTERFACES.md has no layer table after its '<!-- layers:' marker"
    return ranks


def _modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for top in SOURCE_DIRS:
        base = ROOT / top
        for path in base.rglob("*.py"):
            rel = path.relative_to(base)
            if not rel.parts[0].startswith("qcchain_"):
                continue  # another source dir's tree nested here (sdk/gateway under sdk)
            name = ".".join(rel.with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            targets = [f"{stem}.{alias.name}" for alias in node.names] + [stem]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _package_of(module: str) -> str:
    return module.split(".")[0]


def test_every_package_is_in_the_layer_table() -> None:
    ranks = _ranks()
    missing = sorted({_package_of(m) for m in _modules()} - set(ranks))
    assert not missing, f"packages missing from the layer table in docs/INTERFACES.md: {missing}"


def test_no_import_cycles_between_modules() -> None:
    # Python runs a package's __init__ before any module inside it: an import of one's own enclosing
    # package (``from . import x``) is that, not a dependency, so those edges are left out.
    graph = _graph()
    pruned = {v: {w for w in ws if not v.startswith(w + ".")} for v, ws in graph.items()}
    cycles = _cycles(pruned)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_imports_run_down_the_layers() -> None:
    ranks = _ranks()
    bad: dict[str, set[str]] = defaultdict(set)
    for module, targets in _graph().items():
        src = _package_of(module)
        for target in targets:
            dst = _package_of(target)
            if dst != src and ranks.get(dst, 99) >= ranks.get(src, -1):
                bad[f"{src} (rank {ranks.get(src)}) -> {dst} (rank {ranks.get(dst)})"].add(module)
    assert not bad, "imports against the layer order of docs/INTERFACES.md:\n" + "\n".join(
        f"  {edge}: in {', '.join(sorted(mods))}" for edge, mods in sorted(bad.items()))


@pytest.mark.parametrize("package", ["qcchain_core", "qcchain_shim", "qcchain_gateway"])
def test_libraries_import_nothing_of_the_application(package: str) -> None:
    allowed = {"qcchain_core": {"qcchain_core"}, "qcchain_shim": {"qcchain_shim", "qcchain_core"},
               "qcchain_gateway": {"qcchain_gateway", "qcchain_core"}}[package]
    offenders = sorted({f"{m} -> {t}" for m, ts in _graph().items() if _package_of(m) == package
                        for t in ts if _package_of(t) not in allowed})
    assert not offenders, f"{package} imports beyond {sorted(allowed)}: {offenders}"
