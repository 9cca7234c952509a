"""National (GM) cryptography shared by the chaincode and the SDK.

SM2 (GB/T 32918) on a native libcrypto (system OpenSSL 3 or the Tongsuo bundled in ``tongsuopy``, see
:mod:`qcchain_core.gm._native`), SM3 (GB/T 32905) and SM4 (GB/T 32907) on OpenSSL via ``cryptography``.
``qcchain_bench.gmref`` wraps the pure-Python ``gmssl`` package as an independent reference (tests
and benchmarks only). Errors: :class:`qcchain_core.errors.InvalidSignature`, ``InvalidKey``,
``DecryptionError`` (all ``ValueError``).
"""

from __future__ import annotations

from . import _native
from .sm2 import DEFAULT_UID, SM2PrivateKey, SM2PublicKey, ciphertext_from_raw, ciphertext_to_raw, compute_z
from .sm3 import SM3Hasher, hmac_sm3, sm3
from .sm4 import sm4_cbc_decrypt, sm4_cbc_encrypt, sm4_gcm_decrypt, sm4_gcm_encrypt

__all__ = [
    "DEFAULT_UID", "SM2PrivateKey", "SM2PublicKey", "SM3Hasher", "ciphertext_from_raw", "ciphertext_to_raw",
    "compute_z", "hmac_sm3", "set_backend", "sm3", "sm4_cbc_decrypt", "sm4_cbc_encrypt", "sm4_gcm_decrypt", "sm4_gcm_encrypt",
]


def set_backend(name: str | None) -> None:
    """Choose the native SM2 library used when none is given: ``openssl``, ``tongsuo``, or None for the
    first available. Entry points call this (e.g. from ``$QCCHAIN_GM_BACKEND``); libraries never read it.

    Raises:
        OSError: that library is not available here or lacks SM2 (the previous choice is kept).
    """
    wanted = name.strip() if name is not None else ""
    _native.set_default(wanted or None)
