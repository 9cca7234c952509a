"""Throughput of the GM primitives: native backend vs the pure-Python ``gmssl`` reference.

:func:`measure` returns ``{"native": {...}, "gmssl": {...}, "openssl_speed_sm2": {...} | None}`` where each
inner object has ``sm2_sign_per_s``, ``sm2_verify_per_s``, ``sm3_mb_per_s``, ``sm4_gcm_mb_per_s``. SM2 figures
are whole operations as users call them (``SM3(Z_A || M)`` + sign/verify of a 32-byte message with the
default user ID); MB is 10**6 bytes. ``gmssl`` has no GCM, so its SM4-GCM figure is the reference GCM built on
gmssl's SM4 block function (:mod:`qcchain_bench.gmref`). ``openssl_speed_sm2`` is what
``openssl speed -seconds N sm2`` reports on this machine in the same run (None when unavailable). Every
figure is a best-of-slices rate (see :func:`rate`), so load from other processes disturbs it less.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import subprocess
import time
from typing import Any, Callable

from . import gmref as reference
from qcchain_core.gm.sm2 import SM2PrivateKey
from qcchain_core.gm.sm3 import sm3
from qcchain_core.gm.sm4 import sm4_gcm_encrypt

__all__ = ["measure", "openssl_speed_sm2", "rate"]

_log = logging.getLogger(__name__)
_MSG = b"qcchain benchmark message 32 by."


def rate(fn: Callable[[], Any], seconds: float, slices: int = 3) -> float:
    """Calls of ``fn`` per second: the best of ``slices`` runs of ``seconds / slices`` each (at least one
    call per slice). Best-of filters out time stolen by other processes on a shared machine."""
    best = 0.0
    for _ in range(slices):
        calls, start = 0, time.perf_counter()
        deadline = start + seconds / slices
        batch = 1
        while True:
            for _ in range(batch):
                fn()
            calls += batch
            now = time.perf_counter()
            if now >= deadline:
                break
            batch = min(batch * 2, 64)
        best = max(best, calls / (now - start))
    return best


def _native(seconds: float) -> dict[str, float]:
    key = SM2PrivateKey.generate()
    pub = key.public_key()
    sig = key.sign(_MSG)
    buf = os.urandom(1 << 16)
    k16, n12 = os.urandom(16), os.urandom(12)
    return {
        "sm2_sign_per_s": rate(lambda: key.sign(_MSG), seconds),
        "sm2_verify_per_s": rate(lambda: pub.verify(sig, _MSG), seconds),
        "sm3_mb_per_s": rate(lambda: sm3(buf), seconds) * len(buf) / 1e6,
        "sm4_gcm_mb_per_s": rate(lambda: sm4_gcm_encrypt(k16, n12, buf), seconds) * len(buf) / 1e6,
    }


def _gmssl(seconds: float) -> dict[str, float]:
    d = secrets.randbelow(reference.N - 2) + 1
    point = reference.public_point(d)
    signer = reference.gmssl_sm2(d, point)
    sig_hex = signer.sign_with_sm3(_MSG, f"{secrets.randbelow(reference.N - 1) + 1:064x}")
    if not signer.verify_with_sm3(sig_hex, _MSG):
        raise RuntimeError("gmssl could not verify its own signature")
    buf = os.urandom(1 << 12)
    k16, n12 = os.urandom(16), os.urandom(12)
    return {
        "sm2_sign_per_s": rate(lambda: signer.sign_with_sm3(_MSG, secrets.token_hex(32)), seconds),
        "sm2_verify_per_s": rate(lambda: signer.verify_with_sm3(sig_hex, _MSG), seconds),
        "sm3_mb_per_s": rate(lambda: reference.sm3(buf), seconds) * len(buf) / 1e6,
        "sm4_gcm_mb_per_s": rate(lambda: reference.sm4_gcm_encrypt(k16, n12, buf), seconds) * len(buf) / 1e6,
    }


_SPEED_LINE = re.compile(r"SM2.*?\s([\d.]+)\s+([\d.]+)\s*$", re.MULTILINE)


def _speed_once(exe: str, seconds: int, timeout: float) -> dict[str, float] | None:
    try:
        proc = subprocess.run([exe, "speed", "-seconds", str(max(1, seconds)), "sm2"], capture_output=True,
                              text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _log.debug("openssl speed failed: %s", exc)
        return None
    match = _SPEED_LINE.search(proc.stdout)
    if proc.returncode != 0 or match is None:
        _log.debug("openssl speed sm2 unsupported (exit %s)", proc.returncode)
        return None
    return {"sign_per_s": float(match.group(1)), "verify_per_s": float(match.group(2))}


def openssl_speed_sm2(seconds: int = 1, timeout: float = 120.0, runs: int = 2) -> dict[str, float] | None:
    """``{"sign_per_s", "verify_per_s"}`` from ``openssl speed -seconds N sm2`` (best of ``runs``, like
    :func:`rate`), or None when the binary is missing, lacks SM2 or fails (reason logged at debug level)."""
    exe = shutil.which("openssl")
    if exe is None:
        _log.debug("openssl binary not found")
        return None
    results = [r for r in (_speed_once(exe, seconds, timeout) for _ in range(runs)) if r is not None]
    if not results:
        return None
    return {k: max(r[k] for r in results) for k in ("sign_per_s", "verify_per_s")}


def _best(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: max(run[key] for run in runs) for key in runs[0]}


def measure(seconds: float = 1.0, *, openssl: bool = True, gmssl: bool = True, rounds: int = 3) -> dict[str, Any]:
    """Run all measurements, about ``seconds`` each, see the module doc for the shape.

    The native backend, gmssl and ``openssl speed`` are measured in ``rounds`` interleaved rounds and each
    figure is the best over the rounds, so a slow spell of a shared machine hits all of them alike instead
    of skewing the ratios between them.

    Raises:
        ValueError: ``seconds`` or ``rounds`` is not positive.
        qcchain_bench.gmref.ReferenceUnavailable: ``gmssl`` is requested but not installed.
    """
    if not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds!r}")
    if rounds < 1:
        raise ValueError(f"rounds must be positive, got {rounds!r}")
    per = seconds / rounds
    natives: list[dict[str, float]] = []
    refs: list[dict[str, float]] = []
    speeds: list[dict[str, float]] = []
    for _ in range(rounds):
        natives.append(_native(per))
        if gmssl:
            refs.append(_gmssl(per))
        if openssl:
            speed = openssl_speed_sm2(max(1, round(per)), runs=1)
            if speed is not None:
                speeds.append(speed)
    return {"native": _best(natives), "gmssl": _best(refs) if refs else None,
            "openssl_speed_sm2": _best(speeds) if speeds else None}
