"""The chaincode processes the devnet starts: process-wide settings belong to their entry points.

``qcchain_shim.serve`` is a program's serving loop: it applies the shared process settings (GC tuning from
``qcchain_core.grpcenv``) unless told not to; the entry points (``python -m qcchain_contracts`` and
``python -m qcchain_bench.example``) serve through it and pick the SM2 backend from ``QCCHAIN_GM_BACKEND``.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from typing import Any

import pytest

import qcchain_shim.server as server
from qcchain_core import gm
from qcchain_core.gm import _native


@pytest.fixture(autouse=True)
def _restore_process_state() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)
    gm.set_backend(None)


def _no_serving(_server: Any) -> None:
    return None


def test_serve_tunes_the_garbage_collector_unless_told_not_to(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "_serve_until_signal", _no_serving)
    gc.set_threshold(700, 10, 10)
    gc.collect()  # earlier tests' garbage may hold frozen objects: freed now, not while serve() runs
    frozen = gc.get_freeze_count()
    from qcchain_bench.example import KVContract
    server.serve([KVContract()], server.ServerConfig("cc:1", "127.0.0.1:0"), tune_gc=False)
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == frozen
    server.serve([KVContract()], server.ServerConfig("cc:1", "127.0.0.1:0"))
    assert gc.get_threshold() == (50_000, 20, 20)


def test_example_main_serves_through_serve_and_picks_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    import qcchain_shim
    from qcchain_bench import example
    seen: list[tuple[int, str]] = []
    monkeypatch.setattr(qcchain_shim, "serve", lambda contracts: seen.append((len(contracts),
                                                                              _native.default().name)))
    # main() configures the process's root logger (it is a program's entry point): keep the test
    # session's logging as it was for the tests that follow
    monkeypatch.setattr(logging, "basicConfig", lambda **kwargs: seen.append((0, str(sorted(kwargs)))))
    wanted = _native.available()[-1]
    monkeypatch.setenv("QCCHAIN_GM_BACKEND", wanted)
    example.main()
    assert seen == [(0, "['format', 'level']"), (1, wanted)]


def test_contracts_main_refuses_an_unknown_backend(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from qcchain_contracts.__main__ import main
    monkeypatch.setenv("CHAINCODE_ID", "qcchain_1.0:" + "ab" * 32)
    monkeypatch.setenv("CHAINCODE_SERVER_ADDRESS", "127.0.0.1:0")
    monkeypatch.setenv("QCCHAIN_GM_BACKEND", "nope")
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2 and "'nope' is not available" in capsys.readouterr().err
