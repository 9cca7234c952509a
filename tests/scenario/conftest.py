"""The scenario suite's ``runtime`` fixture (see :mod:`runtimes`): devnet always, real Fabric when it
can be provided; features a runtime lacks are xfailed with its reason (``runtimes.require``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runtimes import Runtime, _devnet, _fabric_or_skip  # noqa: E402


@pytest.fixture(scope="module", params=["devnet", pytest.param("fabric", marks=pytest.mark.fabric)])
def runtime(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """A fresh ledger per test module on each runtime (devnet always; Fabric when it can be provided)."""
    if request.param == "fabric":
        _fabric_or_skip()
    yield from _devnet(tmp_path_factory.mktemp("scenario"))
