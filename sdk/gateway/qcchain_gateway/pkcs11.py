"""Keys that never leave a PKCS#11 token: a Gateway :data:`~qcchain_gateway.identity.Signer` backed by a
token (through ``python-pkcs11``, the optional extra ``qcchain-gateway[pkcs11]``), RFC 7512 URIs, and the
admin operations generate / import / list.

What runs on the token: ECDSA P-256 (``CKM_ECDSA`` over the SHA-256 digest the Gateway computes); the
raw ``r||s`` the token returns is DER-encoded with a low S, as Fabric's MSP requires. SM2 has no
standard PKCS#11 mechanism; vendors define one (``CKM_VENDOR_DEFINED + n``). :func:`require_sm2` checks
the token for the vendor mechanism the caller names and raises :class:`TokenUnsupportedError` otherwise
(SoftHSM2 offers none) — there is no silent software fallback.

The PIN is a parameter: callers (entry points) read it from a file or the environment. Nothing here
logs a PIN, a key or a digest.

URI example: ``pkcs11:token=qcchain;object=inspection-admin?module-path=/usr/lib/softhsm/libsofthsm2.so``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from qcchain_gateway.errors import IdentityError

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_MODULES", "Pkcs11Signer", "Pkcs11Uri", "TokenError", "TokenKey", "TokenUnsupportedError",
           "find_module", "generate_key", "import_key", "list_keys", "open_signer", "require_sm2"]

DEFAULT_MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                   "/usr/local/lib/softhsm/libsofthsm2.so", "/usr/lib64/pkcs11/libsofthsm2.so")
_P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_PATH_ATTRS = {"token", "object", "id", "type", "manufacturer", "model", "serial", "library-description",
               "library-manufacturer", "library-version", "slot-description", "slot-id", "slot-manufacturer"}
_QUERY_ATTRS = {"module-path", "module-name", "pin-source", "pin-value"}
_lib_lock = threading.Lock()
_open_sessions = [0]  # sessions open in this process (re-initialising the module would close them)


class TokenError(IdentityError):
    """A PKCS#11 token, key or URI cannot be used (wrong PIN, missing object, no module...). A ValueError."""


class TokenUnsupportedError(TokenError):
    """The token does not offer what was asked (e.g. SM2 on SoftHSM2)."""


@dataclass(frozen=True)
class Pkcs11Uri:
    """An RFC 7512 ``pkcs11:`` URI: path attributes (``token``, ``object``, ``id`` ...) and query
    attributes (``module-path``, ``pin-source``, ``pin-value``), percent-decoded."""

    path: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Pkcs11Uri:
        """Parse ``pkcs11:token=T;object=O?module-path=M``.

        Raises:
            TokenError: not a ``pkcs11:`` URI, an unknown or repeated attribute, or no ``token``.
        """
        if not text.startswith("pkcs11:"):
            raise TokenError(f"not a PKCS#11 URI (must start with 'pkcs11:'): {text[:40]!r}")
        body, _, query = text[len("pkcs11:"):].partition("?")
        path = cls._pairs(body, ";", _PATH_ATTRS, "path")
        q = cls._pairs(query, "&", _QUERY_ATTRS, "query")
        if "token" not in path:
            raise TokenError("PKCS#11 URI names no token (add token=<label>)")
        return cls(path, q)

    @staticmethod
    def _pairs(text: str, sep: str, allowed: set[str], where: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in filter(None, text.split(sep)):
            name, eq, value = part.partition("=")
            if not eq or name not in allowed:
                raise TokenError(f"PKCS#11 URI: unknown {where} attribute {name!r} "
                                 f"(known: {', '.join(sorted(allowed))})")
            if name in out:
                raise TokenError(f"PKCS#11 URI: attribute {name!r} given twice")
            out[name] = unquote(value)
        return out

    @property
    def token(self) -> str:
        """The token label."""
        return self.path["token"]

    @property
    def object(self) -> str | None:
        """The key label (CKA_LABEL), if given."""
        return self.path.get("object")

    @property
    def key_id(self) -> bytes | None:
        """The key id (CKA_ID), if given."""
        raw = self.path.get("id")
        return raw.encode("latin-1") if raw is not None else None

    def __str__(self) -> str:
        path = ";".join(f"{k}={quote(v, safe='')}" for k, v in self.path.items())
        query = "&".join(f"{k}={quote(v, safe='/')}" for k, v in self.query.items() if k != "pin-value")
        return f"pkcs11:{path}" + (f"?{query}" if query else "")


@dataclass(frozen=True)
class TokenKey:
    """A key pair on a token, as :func:`list_keys` reports it (no secret material)."""

    label: str
    key_id: str
    key_type: str
    public_pem: bytes | None


def _pkcs11() -> Any:
    try:
        import pkcs11  # optional dependency: the extra ``qcchain-gateway[pkcs11]``
    except ImportError as exc:
        raise TokenError("PKCS#11 support needs python-pkcs11: pip install 'qcchain-gateway[pkcs11]'") from exc
    return pkcs11


def find_module(uri: Pkcs11Uri | None = None, module: str | None = None) -> str:
    """The PKCS#11 module path: ``module``, else the URI's ``module-path``, else a SoftHSM2 default.

    Raises:
        TokenError: none of them exists.
    """
    given = module or (uri.query.get("module-path") if uri else None)
    if given:
        if not Path(given).is_file():
            raise TokenError(f"PKCS#11 module {given} does not exist")
        return given
    for candidate in DEFAULT_MODULES:
        if Path(candidate).is_file():
            return candidate
    raise TokenError("no PKCS#11 module found (install softhsm2 or give module-path=...)")


def _session(uri: Pkcs11Uri, pin: str | None, module: str | None, rw: bool = False) -> Any:
    p11 = _pkcs11()
    path = find_module(uri, module)
    with _lib_lock:
        token = _token(p11, path, uri.token)
    if pin is None:
        raise TokenError(f"token {uri.token!r} needs a PIN (from a file or the environment)")
    try:
        session = token.open(user_pin=pin, rw=rw)
    except p11.exceptions.UserAlreadyLoggedIn:
        # PKCS#11 login is per application and token: another open session of this process already
        # logged in (with a PIN that was checked then); a new session shares that login.
        session = token.open(rw=rw)
    except p11.exceptions.PinIncorrect:
        raise TokenError(f"token {uri.token!r}: wrong PIN") from None
    except p11.exceptions.PinLocked:
        raise TokenError(f"token {uri.token!r}: PIN locked (too many wrong PINs)") from None
    except p11.exceptions.PKCS11Error as exc:
        raise TokenError(f"token {uri.token!r}: cannot open a session: {type(exc).__name__}") from None
    _open_sessions[0] += 1
    return _Tracked(session)


class _Tracked:
    """A session that keeps the process-wide count of open sessions (see :func:`_token`)."""

    def __init__(self, session: Any) -> None:
        self._s: Any = session

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s, name)

    def close(self) -> None:
        if self._s is not None:
            self._s.close()
            self._s = None
            _open_sessions[0] -= 1

    def __enter__(self) -> _Tracked:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _token(p11: Any, path: str, label: str) -> Any:
    """The token labelled ``label``; when absent and no session is open, the module is re-initialised
    once (a token initialised by ``softhsm2-util`` after loading is seen only then)."""
    lib = p11.lib(path)
    for attempt in (0, 1):
        try:
            return lib.get_token(token_label=label)
        except p11.exceptions.NoSuchToken:
            if attempt or _open_sessions[0]:
                break
            lib.reinitialize()
        except p11.exceptions.MultipleTokensReturned:
            raise TokenError(f"several PKCS#11 tokens labelled {label!r} in {path}") from None
    raise TokenError(f"no PKCS#11 token labelled {label!r} in {path}")


def _key_attrs(uri: Pkcs11Uri) -> dict[Any, Any]:
    p11 = _pkcs11()
    if uri.object is None and uri.key_id is None:
        raise TokenError("PKCS#11 URI names no key (add object=<label> or id=<id>)")
    attrs: dict[Any, Any] = {}
    if uri.object is not None:
        attrs[p11.Attribute.LABEL] = uri.object
    if uri.key_id is not None:
        attrs[p11.Attribute.ID] = uri.key_id
    return attrs


def _find(session: Any, uri: Pkcs11Uri, object_class: Any) -> Any:
    p11 = _pkcs11()
    found = list(session.get_objects({**_key_attrs(uri), p11.Attribute.CLASS: object_class}))
    what = f"token {uri.token!r}: object {uri.object or uri.path.get('id')!r}"
    if not found:
        raise TokenError(f"{what}: no such {object_class.name.lower().replace('_', ' ')}")
    if len(found) > 1:
        raise TokenError(f"{what}: {len(found)} matching keys; add id=... to the URI")
    return found[0]


def _public_key(session: Any, uri: Pkcs11Uri) -> ec.EllipticCurvePublicKey:
    p11 = _pkcs11()
    from pkcs11.util.ec import encode_ec_public_key

    pub = _find(session, uri, p11.ObjectClass.PUBLIC_KEY)
    key = serialization.load_der_public_key(encode_ec_public_key(pub))
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise TokenError(f"token {uri.token!r}: object {uri.object!r} is not an EC key")
    return key


class Pkcs11Signer:
    """A Gateway signer whose ECDSA P-256 private key stays on the token.

    Call it with a 32-byte SHA-256 digest; returns a DER signature with low S. Thread-safe (one session,
    serialised). Close it (or use it as a context manager) to end the session.

    Raises (constructor): TokenError — no module, no token, wrong PIN, no such key, not P-256.
    """

    def __init__(self, uri: Pkcs11Uri, pin: str | None, module: str | None = None) -> None:
        p11 = _pkcs11()
        self.uri = uri
        self._lock = threading.Lock()
        self._session = _session(uri, pin, module)
        try:
            self._key = _find(self._session, uri, p11.ObjectClass.PRIVATE_KEY)
            if self._key.key_type != p11.KeyType.EC:
                raise TokenError(f"token {uri.token!r}: object {uri.object!r} is a {self._key.key_type.name} key; "
                                 "Fabric identities need ECDSA P-256")
            self._public = _public_key(self._session, uri)
            if not isinstance(self._public.curve, ec.SECP256R1):
                raise TokenError(f"token {uri.token!r}: object {uri.object!r} is on {self._public.curve.name}; "
                                 "expected P-256")
        except BaseException:
            self._session.close()
            raise

    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The key's public half (read from the token's public key object)."""
        return self._public

    def __call__(self, digest: bytes) -> bytes:
        """Sign ``digest`` (32 bytes) on the token. Raises TokenError on a token failure."""
        p11 = _pkcs11()
        if len(digest) != 32:
            raise TokenError(f"PKCS#11 P-256 signer: digest of {len(digest)} bytes; expected 32 (SHA-256)")
        try:
            with self._lock:
                raw = self._key.sign(digest, mechanism=p11.Mechanism.ECDSA)
        except p11.exceptions.PKCS11Error as exc:
            raise TokenError(f"token {self.uri.token!r}: signing failed: {type(exc).__name__}") from None
        half = len(raw) // 2
        r, s = int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
        if s > _P256_N >> 1:
            s = _P256_N - s
        return encode_dss_signature(r, s)

    def close(self) -> None:
        """End the token session (idempotent)."""
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    def __enter__(self) -> Pkcs11Signer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_signer(uri: str | Pkcs11Uri, pin: str | None, module: str | None = None) -> Pkcs11Signer:
    """A :class:`Pkcs11Signer` for ``uri`` (text or parsed). Raises TokenError."""
    return Pkcs11Signer(uri if isinstance(uri, Pkcs11Uri) else Pkcs11Uri.parse(uri), pin, module)


def _new_id(label: str) -> bytes:
    import hashlib

    return hashlib.sha256(label.encode()).digest()[:8]


def _refuse_existing(session: Any, uri: Pkcs11Uri) -> None:
    p11 = _pkcs11()
    if list(session.get_objects({p11.Attribute.LABEL: uri.object})):
        raise TokenError(f"token {uri.token!r}: an object labelled {uri.object!r} already exists")


def generate_key(uri: str | Pkcs11Uri, pin: str | None, module: str | None = None) -> ec.EllipticCurvePublicKey:
    """Generate an ECDSA P-256 key pair on the token, labelled ``object`` of the URI (non-extractable,
    sensitive). Returns its public key.

    Raises:
        TokenError: the URI names no object, the label exists, wrong PIN, no token.
    """
    p11 = _pkcs11()
    from pkcs11.util.ec import encode_named_curve_parameters

    parsed = uri if isinstance(uri, Pkcs11Uri) else Pkcs11Uri.parse(uri)
    if not parsed.object:
        raise TokenError("generate: the URI must name the new key (object=<label>)")
    A = p11.Attribute
    with _session(parsed, pin, module, rw=True) as session:
        _refuse_existing(session, parsed)
        params = session.create_domain_parameters(
            p11.KeyType.EC, {A.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True)
        params.generate_keypair(store=True, label=parsed.object, id=_new_id(parsed.object),
                                private_template={A.SENSITIVE: True, A.EXTRACTABLE: False, A.SIGN: True},
                                public_template={A.VERIFY: True})
        logger.info("generated a P-256 key on token %s (label %s)", parsed.token, parsed.object)
        return _public_key(session, parsed)


def import_key(uri: str | Pkcs11Uri, pin: str | None, key: ec.EllipticCurvePrivateKey,
               module: str | None = None) -> ec.EllipticCurvePublicKey:
    """Import an ECDSA P-256 private key (and its public key) into the token as ``object``; on the token it
    is sensitive and non-extractable. Returns the public key.

    Raises:
        TokenError: not a P-256 key, the label exists, wrong PIN, no token.
    """
    p11 = _pkcs11()
    from pkcs11.util.ec import decode_ec_private_key, decode_ec_public_key

    parsed = uri if isinstance(uri, Pkcs11Uri) else Pkcs11Uri.parse(uri)
    if not parsed.object:
        raise TokenError("import: the URI must name the key (object=<label>)")
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise TokenError("import: only ECDSA P-256 keys can be imported (SM2 keys stay in the keystore)")
    A = p11.Attribute
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    pub_der = key.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    common = {A.TOKEN: True, A.LABEL: parsed.object, A.ID: _new_id(parsed.object)}
    with _session(parsed, pin, module, rw=True) as session:
        _refuse_existing(session, parsed)
        session.create_object({**decode_ec_private_key(der), **common, A.PRIVATE: True, A.SENSITIVE: True,
                               A.EXTRACTABLE: False, A.SIGN: True})
        session.create_object({**decode_ec_public_key(pub_der), **common, A.VERIFY: True})
        logger.info("imported a P-256 key into token %s (label %s)", parsed.token, parsed.object)
        return _public_key(session, parsed)


def list_keys(uri: str | Pkcs11Uri, pin: str | None, module: str | None = None) -> list[TokenKey]:
    """The private keys on the token (label, id, type, public key PEM when a public object matches).

    Raises:
        TokenError: wrong PIN, no token.
    """
    p11 = _pkcs11()
    from pkcs11.util.ec import encode_ec_public_key

    parsed = uri if isinstance(uri, Pkcs11Uri) else Pkcs11Uri.parse(uri)
    out: list[TokenKey] = []
    with _session(parsed, pin, module) as session:
        for key in list(session.get_objects({p11.Attribute.CLASS: p11.ObjectClass.PRIVATE_KEY})):
            label, key_id = key.label or "", bytes(key.id or b"")
            pem = None
            pubs = list(session.get_objects({p11.Attribute.CLASS: p11.ObjectClass.PUBLIC_KEY,
                                             p11.Attribute.ID: key_id}))
            if len(pubs) == 1 and key.key_type == p11.KeyType.EC:
                pem = serialization.load_der_public_key(encode_ec_public_key(pubs[0])).public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            out.append(TokenKey(label, key_id.hex(), key.key_type.name, pem))
    return sorted(out, key=lambda k: (k.label, k.key_id))


def require_sm2(uri: str | Pkcs11Uri, mechanism: int | None, module: str | None = None) -> None:
    """Check that the token offers the vendor SM2 mechanism ``mechanism`` (PKCS#11 defines none).

    Raises:
        TokenUnsupportedError: no mechanism mapping is configured, or the token lacks it (SoftHSM2).
        TokenError: no module or token.
    """
    p11 = _pkcs11()
    parsed = uri if isinstance(uri, Pkcs11Uri) else Pkcs11Uri.parse(uri)
    path = find_module(parsed, module)
    with _lib_lock:
        token = _token(p11, path, parsed.token)
    offered = {int(m) for m in token.slot.get_mechanisms()}
    if mechanism is None or mechanism not in offered:
        named = f"0x{mechanism:08x}" if mechanism is not None else "none configured"
        raise TokenUnsupportedError(
            f"token {parsed.token!r} ({token.manufacturer_id.strip()}) offers no SM2 mechanism "
            f"(vendor mechanism: {named}); SM2 keys stay in the encrypted keystore — no software fallback")
