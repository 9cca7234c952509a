"""The SM2 backend is chosen by the entry point (``set_backend``), never from the environment by the library."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qcchain_core import gm
from qcchain_core.gm import _native

BACKENDS = _native.available()


@pytest.fixture(autouse=True)
def _restore_default() -> Iterator[None]:
    yield
    gm.set_backend(None)


def test_environment_is_not_read_by_the_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCCHAIN_GM_BACKEND", "no-such-backend")
    gm.set_backend(None)
    assert _native.default().name == BACKENDS[0]


@pytest.mark.parametrize("name", BACKENDS)
def test_set_backend_selects_the_default(name: str) -> None:
    gm.set_backend(name)
    assert _native.default().name == name
    key = gm.SM2PrivateKey.generate()
    key.public_key().verify(key.sign(b"m"), b"m")
    with pytest.raises(ValueError):
        key.public_key().verify(key.sign(b"m"), b"other")


def test_unknown_backend_is_refused_and_keeps_the_previous_choice() -> None:
    gm.set_backend(BACKENDS[-1])
    with pytest.raises(OSError, match="'nope' is not available"):
        gm.set_backend("nope")
    assert _native.default().name == BACKENDS[-1]
