"""Two devnets with separate crypto material (own CAs, generated per state dir) and different org names:
A = the project's consortium, B = the same shape renamed (``Pk*`` orgs, ``park.example`` domains). On each
the story's first steps run (members, SM2 keys, deploy); A also registers equipment EQ (L1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .chains import Chain, devnet_chain, renamed_consortium

__all__ = ["Chain"]


@pytest.fixture(scope="package")
def chain_a(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """Source chain A (project consortium), with equipment EQ registered."""
    for chain in devnet_chain("A ", tmp_path_factory.mktemp("chainA") / "devnet", None):
        chain.story.equipment()
        yield chain


@pytest.fixture(scope="package")
def chain_b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """Receiving chain B (renamed orgs, own CAs)."""
    tmp = tmp_path_factory.mktemp("chainB")
    yield from devnet_chain("B ", tmp / "devnet", renamed_consortium(tmp))
