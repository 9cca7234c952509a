"""Contract code can never end the server: every BaseException is that transaction's error response, and
the same stream keeps serving (server in its own process, as under CCaaS)."""

from __future__ import annotations

import pytest
from ccproc import served

from qcchain_shim.testing import MockStub
from loadcc import Load


@pytest.mark.parametrize("kind", ["SystemExit", "KeyboardInterrupt", "GeneratorExit", "BaseException", "exit"])
def test_base_exception_is_an_error_response_in_the_router(kind: str) -> None:
    response = MockStub().invoke([Load()], "load:raise_base", [kind])
    assert response.status == 500
    assert response.message.startswith("SystemExit" if kind == "exit" else kind)


def test_server_keeps_serving_after_every_base_exception() -> None:
    with served() as (peer, proc):
        for kind in ["SystemExit", "KeyboardInterrupt", "GeneratorExit", "BaseException", "exit"]:
            result = peer.submit(["load:raise_base", kind], timeout=10)
            assert result.response is not None and result.response.status == 500, kind
            assert result.response.message.startswith("SystemExit" if kind == "exit" else kind)
            assert peer.submit(["load:put", "k", kind], timeout=10).ok, kind
        assert peer.committed("k") == b"exit"
        assert proc.poll() is None and peer.connected
