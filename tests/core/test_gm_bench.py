"""The benchmark library: shape, argument checks and the openssl-speed parser (no timing asserted)."""

from __future__ import annotations

import pytest

from qcchain_bench import crypto as bench


def test_measure_rejects_non_positive_seconds() -> None:
    with pytest.raises(ValueError, match="seconds must be positive"):
        bench.measure(0)


def test_measure_native_only_shape() -> None:
    res = bench.measure(0.01, openssl=False, gmssl=False)
    assert res["gmssl"] is None and res["openssl_speed_sm2"] is None
    assert set(res["native"]) == {"sm2_sign_per_s", "sm2_verify_per_s", "sm3_mb_per_s", "sm4_gcm_mb_per_s"}


def test_speed_line_parser() -> None:
    out = ("                              sign    verify    sign/s verify/s\n"
           " 256 bits SM2 (CurveSM2)   0.0003s   0.0003s   3277.0   3842.0\n")
    match = bench._SPEED_LINE.search(out)
    assert match and (float(match.group(1)), float(match.group(2))) == (3277.0, 3842.0)


def test_rate_counts_calls() -> None:
    calls = []
    per_s = bench.rate(lambda: calls.append(1), 0.01)
    assert per_s > 0 and len(calls) >= 1
