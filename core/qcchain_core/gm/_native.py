"""Native SM2 backend: cffi (ABI mode) over an OpenSSL-family ``libcrypto``.

Two libraries are supported, tried in this order (an entry point may pick one with
:func:`qcchain_core.gm.set_backend`, e.g. from ``$QCCHAIN_GM_BACKEND``; the library reads no environment):

``openssl``
    The system OpenSSL 3 ``libcrypto.so.3`` when it was built with SM2 (Debian/Ubuntu builds are; some
    distributions strip SM2). This is the same code ``openssl speed sm2`` measures, and measured the
    fastest on this machine class.
``tongsuo``
    The Tongsuo (OpenSSL 1.1.1 API) library bundled inside the ``tongsuopy`` wheel. Always available
    wherever ``qcchain-core`` installs, so the package never depends on the system library.

Only the EVP layer is used. Signing and verification operate on the 32-byte SM3 digest
``e = SM3(Z_A || M)``, which :mod:`qcchain_core.gm.sm2` computes (GB/T 32918.2 §6.1), so the user ID
is handled identically on both libraries. Encryption uses the library's GB/T 32918.4 implementation,
whose ciphertext is the ASN.1 DER ``SEQUENCE {x, y, C3 hash, C2 ciphertext}`` (C1C3C2 order, GM/T 0009).

Objects returned here own native memory released by the garbage collector (``ffi.gc``). An
``EVP_PKEY_CTX`` is not thread-safe, so signing/verifying contexts are pooled per key: a thread pops
one (or creates one) and pushes it back, which is atomic under the GIL.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from cffi import FFI

from ..errors import CryptoError, DecryptionError, InvalidKey

_log = logging.getLogger(__name__)

_CDEF = """
typedef struct evp_pkey_st EVP_PKEY;
typedef struct evp_pkey_ctx_st EVP_PKEY_CTX;
typedef struct evp_cipher_st EVP_CIPHER;
typedef struct engine_st ENGINE;
typedef struct bio_st BIO;
typedef int pem_password_cb(char *buf, int size, int rwflag, void *userdata);
EVP_PKEY_CTX *EVP_PKEY_CTX_new_id(int id, ENGINE *e);
EVP_PKEY_CTX *EVP_PKEY_CTX_new(EVP_PKEY *pkey, ENGINE *e);
void EVP_PKEY_CTX_free(EVP_PKEY_CTX *ctx);
int EVP_PKEY_CTX_ctrl(EVP_PKEY_CTX *ctx, int keytype, int optype, int cmd, int p1, void *p2);
int EVP_PKEY_keygen_init(EVP_PKEY_CTX *ctx);
int EVP_PKEY_keygen(EVP_PKEY_CTX *ctx, EVP_PKEY **ppkey);
int EVP_PKEY_set_alias_type(EVP_PKEY *pkey, int type);
int EVP_PKEY_id(const EVP_PKEY *pkey);
int EVP_PKEY_is_a(const EVP_PKEY *pkey, const char *name);
void EVP_PKEY_free(EVP_PKEY *pkey);
int EVP_PKEY_sign_init(EVP_PKEY_CTX *ctx);
int EVP_PKEY_sign(EVP_PKEY_CTX *ctx, unsigned char *sig, size_t *siglen, const unsigned char *tbs, size_t tbslen);
int EVP_PKEY_verify_init(EVP_PKEY_CTX *ctx);
int EVP_PKEY_verify(EVP_PKEY_CTX *ctx, const unsigned char *sig, size_t siglen, const unsigned char *tbs, size_t tbslen);
int EVP_PKEY_encrypt_init(EVP_PKEY_CTX *ctx);
int EVP_PKEY_encrypt(EVP_PKEY_CTX *ctx, unsigned char *out, size_t *outlen, const unsigned char *in, size_t inlen);
int EVP_PKEY_decrypt_init(EVP_PKEY_CTX *ctx);
int EVP_PKEY_decrypt(EVP_PKEY_CTX *ctx, unsigned char *out, size_t *outlen, const unsigned char *in, size_t inlen);
const EVP_CIPHER *EVP_sm4_cbc(void);
BIO *BIO_new_mem_buf(const void *buf, int len);
const void *BIO_s_mem(void);
BIO *BIO_new(const void *type);
long BIO_ctrl(BIO *bp, int cmd, long larg, void *parg);
int BIO_free(BIO *a);
EVP_PKEY *PEM_read_bio_PrivateKey(BIO *bp, EVP_PKEY **x, pem_password_cb *cb, void *u);
EVP_PKEY *PEM_read_bio_PUBKEY(BIO *bp, EVP_PKEY **x, pem_password_cb *cb, void *u);
int PEM_write_bio_PKCS8PrivateKey(BIO *bp, EVP_PKEY *x, const EVP_CIPHER *enc, char *kstr, int klen,
                                  pem_password_cb *cb, void *u);
int PEM_write_bio_PUBKEY(BIO *bp, EVP_PKEY *x);
int i2d_PUBKEY(EVP_PKEY *a, unsigned char **pp);
EVP_PKEY *d2i_PUBKEY(EVP_PKEY **a, const unsigned char **pp, long length);
void ERR_clear_error(void);
unsigned long ERR_get_error(void);
void ERR_error_string_n(unsigned long e, char *buf, size_t len);
"""

_EVP_PKEY_EC = 408
_EVP_PKEY_SM2 = 1172  # == NID_sm2 in both libraries
_EVP_PKEY_OP_PARAMGEN = 1 << 1
_EVP_PKEY_OP_KEYGEN = 1 << 2
_EVP_PKEY_CTRL_EC_PARAMGEN_CURVE_NID = 0x1000 + 1
_BIO_CTRL_INFO = 3

#: DER prefix of a SubjectPublicKeyInfo for id-ecPublicKey on curve SM2 (1.2.156.10197.1.301),
#: followed by the 65-byte uncompressed point.
SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")
SIG_MAX = 80  # DER SM2 signature is at most 72 bytes


@dataclass
class Key:
    """An ``EVP_PKEY`` of type SM2 plus its per-key pools of initialised contexts."""

    backend: "Backend"
    pkey: Any
    sign_pool: list[Any] = field(default_factory=list)
    verify_pool: list[Any] = field(default_factory=list)


class Backend:
    """One loaded libcrypto and the SM2 operations on it.

    Raises (constructor):
        OSError: the library cannot be loaded or lacks SM2.
    """

    def __init__(self, name: str, path: str, v3: bool) -> None:
        self.name = name
        self.path = path
        self.v3 = v3
        self.ffi = FFI()
        self.ffi.cdef(_CDEF)
        self.lib = self.ffi.dlopen(path)
        self._self_test()

    def __repr__(self) -> str:
        return f"Backend({self.name!r}, {self.path!r})"

    # -- helpers -------------------------------------------------------------------------------------
    def _errors(self) -> str:
        """Drain the library's error queue into one short text (no key material is ever in it)."""
        texts = []
        buf = self.ffi.new("char[256]")
        while code := self.lib.ERR_get_error():
            self.lib.ERR_error_string_n(code, buf, 256)
            texts.append(self.ffi.string(buf).decode("ascii", "replace"))
        return "; ".join(texts[-2:]) or "no detail"

    def _is_sm2(self, pkey: Any) -> bool:
        if self.v3:  # provider-native keys have no legacy id; ask the key manager
            return bool(self.lib.EVP_PKEY_is_a(pkey, b"SM2") == 1)
        return bool(self.lib.EVP_PKEY_id(pkey) == _EVP_PKEY_SM2)

    def _wrap(self, pkey: Any) -> Key:
        """Own ``pkey``; make sure it is an SM2 key usable with SM2 operations.

        Raises:
            InvalidKey: the key is not on the SM2 curve.
        """
        pkey = self.ffi.gc(pkey, self.lib.EVP_PKEY_free)
        key = Key(self, pkey)
        if not self.public_der(key).startswith(SPKI_PREFIX):
            raise InvalidKey("key is not an SM2 key (curve must be SM2, OID 1.2.156.10197.1.301)")
        if not self._is_sm2(pkey):
            if self.v3 or self.lib.EVP_PKEY_set_alias_type(pkey, _EVP_PKEY_SM2) != 1:
                raise InvalidKey(f"key on the SM2 curve cannot be used as SM2 ({self._errors()})")
        return key

    def _ctx(self, key: Key, init: Callable[[Any], int]) -> Any:
        ctx = self.lib.EVP_PKEY_CTX_new(key.pkey, self.ffi.NULL)
        if ctx == self.ffi.NULL:
            raise CryptoError(f"{self.name}: EVP_PKEY_CTX_new failed ({self._errors()})")
        ctx = self.ffi.gc(ctx, self.lib.EVP_PKEY_CTX_free)
        if init(ctx) != 1:
            raise CryptoError(f"{self.name}: context initialisation failed ({self._errors()})")
        return ctx

    def _bio_bytes(self, bio: Any) -> bytes:
        ptr = self.ffi.new("char **")
        size = self.lib.BIO_ctrl(bio, _BIO_CTRL_INFO, 0, ptr)
        return bytes(self.ffi.buffer(ptr[0], size))

    def _self_test(self) -> None:
        key = self.generate()
        digest = bytes(range(32))
        if not self.verify(key, self.sign(key, digest), digest):
            raise OSError(f"{self.path}: SM2 self-test failed")

    # -- keys ------------------------------------------------------------------------------------------
    def generate(self) -> Key:
        """Generate a fresh SM2 key pair from the library's CSPRNG.

        Raises:
            OSError: the library lacks SM2 key generation.
        """
        ffi, lib = self.ffi, self.lib
        kid = _EVP_PKEY_SM2 if self.v3 else _EVP_PKEY_EC
        ctx = lib.EVP_PKEY_CTX_new_id(kid, ffi.NULL)
        if ctx == ffi.NULL:
            raise OSError(f"{self.name}: no SM2 key type ({self._errors()})")
        ctx = ffi.gc(ctx, lib.EVP_PKEY_CTX_free)
        out = ffi.new("EVP_PKEY **")
        ok = lib.EVP_PKEY_keygen_init(ctx) == 1
        if ok and not self.v3:
            ok = lib.EVP_PKEY_CTX_ctrl(ctx, _EVP_PKEY_EC, _EVP_PKEY_OP_PARAMGEN | _EVP_PKEY_OP_KEYGEN,
                                       _EVP_PKEY_CTRL_EC_PARAMGEN_CURVE_NID, _EVP_PKEY_SM2, ffi.NULL) > 0
        if not ok or lib.EVP_PKEY_keygen(ctx, out) != 1:
            raise OSError(f"{self.name}: SM2 key generation failed ({self._errors()})")
        return self._wrap(out[0])

    def load_private_pem(self, pem: bytes, password: bytes | None) -> Key:
        """Parse a PEM private key (PKCS#8, encrypted PKCS#8 or SEC1 ``EC PRIVATE KEY``).

        Raises:
            InvalidKey: malformed PEM, wrong/missing password, or not an SM2 key.
        """
        ffi, lib = self.ffi, self.lib

        @ffi.callback("int(char *, int, int, void *)")
        def _password(buf: Any, size: int, _rwflag: int, _user: Any) -> int:
            if password is None or len(password) > size:
                return -1
            ffi.memmove(buf, password, len(password))
            return len(password)

        bio = ffi.gc(lib.BIO_new_mem_buf(pem, len(pem)), lib.BIO_free)
        pkey = lib.PEM_read_bio_PrivateKey(bio, ffi.NULL, _password, ffi.NULL)
        if pkey == ffi.NULL:
            detail = self._errors()
            _log.debug("private key PEM rejected by %s: %s", self.name, detail)
            raise InvalidKey(f"cannot read SM2 private key PEM (malformed, or wrong password): {detail}")
        return self._wrap(pkey)

    def load_public_pem(self, pem: bytes) -> Key:
        """Parse a ``PUBLIC KEY`` PEM (SubjectPublicKeyInfo).

        Raises:
            InvalidKey: malformed PEM, point not on the curve, or not an SM2 key.
        """
        ffi, lib = self.ffi, self.lib
        bio = ffi.gc(lib.BIO_new_mem_buf(pem, len(pem)), lib.BIO_free)
        pkey = lib.PEM_read_bio_PUBKEY(bio, ffi.NULL, ffi.NULL, ffi.NULL)
        if pkey == ffi.NULL:
            raise InvalidKey(f"cannot read SM2 public key PEM: {self._errors()}")
        return self._wrap(pkey)

    def load_public_der(self, der: bytes) -> Key:
        """Parse a DER SubjectPublicKeyInfo.

        Raises:
            InvalidKey: malformed DER, point not on the curve, or not an SM2 key.
        """
        ffi, lib = self.ffi, self.lib
        buf = ffi.new("unsigned char[]", der)
        ptr = ffi.new("const unsigned char **", buf)
        pkey = lib.d2i_PUBKEY(ffi.NULL, ptr, len(der))
        if pkey == ffi.NULL:
            raise InvalidKey(f"invalid SM2 public key (not a point on the curve?): {self._errors()}")
        return self._wrap(pkey)

    def private_pem(self, key: Key, password: bytes | None) -> bytes:
        """PKCS#8 PEM; PBES2 (PBKDF2-HMAC-SHA256, SM4-CBC) encrypted when ``password`` is given.

        Raises:
            CryptoError: the library failed to encode.
        """
        ffi, lib = self.ffi, self.lib
        bio = ffi.gc(lib.BIO_new(lib.BIO_s_mem()), lib.BIO_free)
        if password is None:
            ok = lib.PEM_write_bio_PKCS8PrivateKey(bio, key.pkey, ffi.NULL, ffi.NULL, 0, ffi.NULL, ffi.NULL)
        else:
            kstr = ffi.new("char[]", password)
            ok = lib.PEM_write_bio_PKCS8PrivateKey(bio, key.pkey, lib.EVP_sm4_cbc(), kstr, len(password),
                                                   ffi.NULL, ffi.NULL)
        if ok != 1:
            raise CryptoError(f"{self.name}: cannot encode private key ({self._errors()})")
        return self._bio_bytes(bio)

    def public_pem(self, key: Key) -> bytes:
        """``PUBLIC KEY`` PEM. Raises CryptoError if the library fails."""
        ffi, lib = self.ffi, self.lib
        bio = ffi.gc(lib.BIO_new(lib.BIO_s_mem()), lib.BIO_free)
        if lib.PEM_write_bio_PUBKEY(bio, key.pkey) != 1:
            raise CryptoError(f"{self.name}: cannot encode public key ({self._errors()})")
        return self._bio_bytes(bio)

    def public_der(self, key: Key) -> bytes:
        """DER SubjectPublicKeyInfo. Raises CryptoError if the library fails."""
        ffi, lib = self.ffi, self.lib
        size = lib.i2d_PUBKEY(key.pkey, ffi.NULL)
        if size <= 0:
            raise CryptoError(f"{self.name}: cannot encode public key ({self._errors()})")
        buf = ffi.new("unsigned char[]", size)
        lib.i2d_PUBKEY(key.pkey, ffi.new("unsigned char **", buf))
        return bytes(ffi.buffer(buf, size))

    # -- operations ------------------------------------------------------------------------------------
    def sign(self, key: Key, digest: bytes) -> bytes:
        """DER signature of the 32-byte ``digest`` (= SM3(Z_A || M)). Raises CryptoError on failure."""
        try:
            ctx = key.sign_pool.pop()
        except IndexError:
            ctx = self._ctx(key, self.lib.EVP_PKEY_sign_init)
        sig = self.ffi.new("unsigned char[]", SIG_MAX)
        size = self.ffi.new("size_t *", SIG_MAX)
        ok = self.lib.EVP_PKEY_sign(ctx, sig, size, digest, len(digest))
        if ok != 1:
            raise CryptoError(f"{self.name}: SM2 signing failed ({self._errors()})")
        key.sign_pool.append(ctx)
        return bytes(self.ffi.buffer(sig, size[0]))

    def verify(self, key: Key, signature: bytes, digest: bytes) -> bool:
        """True iff ``signature`` (strict DER) is valid for ``digest`` under ``key``."""
        try:
            ctx = key.verify_pool.pop()
        except IndexError:
            ctx = self._ctx(key, self.lib.EVP_PKEY_verify_init)
        ok = self.lib.EVP_PKEY_verify(ctx, signature, len(signature), digest, len(digest))
        key.verify_pool.append(ctx)
        if ok != 1:
            self.lib.ERR_clear_error()
        return ok == 1

    def _crypt(self, key: Key, init: Any, op: Any, data: bytes) -> bytes | None:
        ffi = self.ffi
        ctx = self._ctx(key, init)
        size = ffi.new("size_t *", 0)
        if op(ctx, ffi.NULL, size, data, len(data)) != 1:
            return None
        out = ffi.new("unsigned char[]", max(size[0], 1))
        if op(ctx, out, size, data, len(data)) != 1:
            return None
        return bytes(ffi.buffer(out, size[0]))

    def encrypt(self, key: Key, plaintext: bytes) -> bytes:
        """GB/T 32918.4 encryption, DER C1C3C2. Raises CryptoError on failure."""
        out = self._crypt(key, self.lib.EVP_PKEY_encrypt_init, self.lib.EVP_PKEY_encrypt, plaintext)
        if out is None:
            raise CryptoError(f"{self.name}: SM2 encryption failed ({self._errors()})")
        return out

    def decrypt(self, key: Key, ciphertext: bytes) -> bytes:
        """GB/T 32918.4 decryption of DER C1C3C2.

        Raises:
            DecryptionError: malformed or truncated ciphertext, or the C3 hash does not match.
        """
        out = self._crypt(key, self.lib.EVP_PKEY_decrypt_init, self.lib.EVP_PKEY_decrypt, ciphertext)
        if out is None:
            detail = self._errors()
            _log.debug("SM2 decryption failed in %s: %s", self.name, detail)
            raise DecryptionError("SM2 decryption failed: ciphertext malformed, truncated, tampered "
                                  "or for another key")
        return out


def _candidates() -> dict[str, tuple[str, bool]]:
    """Library paths by backend name (``openssl`` is looked up by its soname at load time)."""
    found: dict[str, tuple[str, bool]] = {"openssl": ("libcrypto.so.3", True)}
    try:
        from tongsuopy.backends import _tongsuo  # noqa: PLC0415 - optional, heavy

        found["tongsuo"] = (str(_tongsuo.__file__), False)
    except ImportError:  # pragma: no cover - tongsuopy is a dependency
        pass
    return found


_LOADED: dict[str, Backend] = {}
_LOCK = threading.RLock()


def load(name: str) -> Backend:
    """Load (once) the backend called ``name`` (``openssl`` or ``tongsuo``).

    Raises:
        OSError: that library is not available here or lacks SM2.
    """
    with _LOCK:
        return _load_locked(name)


def _load_locked(name: str) -> Backend:
    if name not in _LOADED:
        cands = _candidates()
        if name not in cands:
            raise OSError(f"SM2 backend {name!r} is not available (known here: {sorted(cands)})")
        path, v3 = cands[name]
        _LOADED[name] = Backend(name, path, v3)
        _log.debug("SM2 backend %s loaded from %s", name, path)
    return _LOADED[name]


def available() -> list[str]:
    """Names of the backends that load and pass the self-test here, fastest first."""
    names = []
    for name in ("openssl", "tongsuo"):
        try:
            load(name)
        except (OSError, CryptoError) as exc:
            _log.debug("SM2 backend %s unavailable: %s", name, exc)
            continue
        names.append(name)
    return names


_DEFAULT: Backend | None = None


def set_default(name: str | None) -> None:
    """Make backend ``name`` the default (None: back to the first available, chosen lazily).

    Raises:
        OSError: that library is not available here or lacks SM2 (the default is then unchanged).
    """
    global _DEFAULT
    with _LOCK:
        _DEFAULT = None if name is None else load(name)


def default() -> Backend:
    """The backend used when none is given: the one set by :func:`set_default`, else the first available.

    Raises:
        OSError: no SM2-capable library could be loaded.
    """
    global _DEFAULT
    with _LOCK:
        if _DEFAULT is None:
            _DEFAULT = _choose()
        return _DEFAULT


def _choose() -> Backend:
    names = available()
    if not names:
        raise OSError("no SM2-capable native library found (need tongsuopy or OpenSSL 3 with SM2)")
    return load(names[0])
