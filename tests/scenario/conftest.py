"""The scenario suite's ``runtime`` fixture (see :mod:`runtimes`): devnet always, real Fabric when it
can be provided; features a runtime lacks are xfailed with its reason (``runtimes.require``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runtimes import Runtime, _devnet, _fabric, fabric_binaries_or_skip, fabric_network  # noqa: E402


FIGURES: dict[str, str] = {}


@pytest.fixture(scope="session")
def fabric_figures() -> dict[str, str]:
    """Measured figures of the real-Fabric run, printed at the end of the session."""
    return FIGURES


@pytest.fixture(scope="session")
def fabric_story_net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The default consortium as a native Fabric network, once per session (skipped without binaries);
    every process it started is stopped at the end (checked)."""
    from qcchain_network import procs

    fabric_binaries_or_skip()
    out = tmp_path_factory.mktemp("fabric") / "net"
    for net in fabric_network(out):
        FIGURES.update({f"{name} s": f"{seconds:.1f}" for name, seconds in net.timings.items()})
        yield net
    left = [p.name for p in procs.read_pids(out) if procs.alive(p.pid)]
    assert not left, f"processes left running: {left}"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run each module's whole-chaincode upgrade test after every other test of that module on the same
    runtime: it leaves the ledger's approved version at 2, which the other tests' calls then refuse.
    (pytest may reorder items to group the module-scoped ``runtime`` fixture; this runs after it.)"""
    def key(item: pytest.Item) -> tuple[str, str]:
        spec = getattr(item, "callspec", None)
        return (item.nodeid.split("::")[0], str(spec.params.get("runtime", "")) if spec else "")

    last = [item for item in items if item.name.startswith("test_whole_chaincode_upgrade")]
    for item in last:
        items.remove(item)
        group = [i for i, other in enumerate(items) if key(other) == key(item)]
        items.insert(group[-1] + 1 if group else len(items), item)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the figures measured on real Fabric."""
    if FIGURES:
        terminalreporter.section("real Fabric (default consortium) figures")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name:60} {value}")


@pytest.fixture(scope="module", params=["devnet", pytest.param("fabric", marks=pytest.mark.fabric)])
def runtime(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """A fresh ledger per test module on the devnet; on Fabric the session's one network and ledger
    (a Fabric ledger cannot be reset, so only one module may drive the story's bootstrap on it)."""
    if request.param == "fabric":
        yield from _fabric(request.getfixturevalue("fabric_story_net"))
        return
    yield from _devnet(tmp_path_factory.mktemp("scenario"))
