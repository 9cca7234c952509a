"""The client identity of a transaction: MSP id, X.509 certificate and Fabric CA attributes."""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from cryptography import x509
from fabric_protos.msp.identities_pb2 import SerializedIdentity
from google.protobuf.message import DecodeError

from .errors import ChaincodeError, CreatorIdentityError

#: OID of the extension in which Fabric CA stores ``{"attrs": {...}}`` (raw JSON bytes).
ATTRIBUTE_OID = x509.ObjectIdentifier("1.2.3.4.5.6.7.8.1")


class ClientIdentity:
    """Parsed creator of a proposal (``msp.SerializedIdentity``).

    Raises (on construction):
        CreatorIdentityError: the bytes are not a SerializedIdentity or hold no PEM X.509 certificate.
    """

    def __init__(self, creator: bytes) -> None:
        try:
            serialized = SerializedIdentity.FromString(creator)
        except DecodeError as exc:
            raise CreatorIdentityError("creator is not a valid SerializedIdentity") from exc
        if not serialized.mspid:
            raise CreatorIdentityError("creator has no MSP id")
        try:
            self._cert = x509.load_pem_x509_certificate(serialized.id_bytes)
        except ValueError as exc:
            raise CreatorIdentityError("creator id_bytes is not a PEM X.509 certificate") from exc
        self.msp_id: str = serialized.mspid
        self.cert_pem: bytes = serialized.id_bytes

    @property
    def certificate(self) -> x509.Certificate:
        """The creator's certificate."""
        return self._cert

    @cached_property
    def id(self) -> str:
        """``x509::<subject DN>::<issuer DN>`` (RFC 4514 order, as Go's ``cid.GetID`` decoded)."""
        return f"x509::{self._cert.subject.rfc4514_string()}::{self._cert.issuer.rfc4514_string()}"

    @cached_property
    def attributes(self) -> dict[str, str]:
        """Fabric CA attributes from extension 1.2.3.4.5.6.7.8.1 (empty if none).

        Raises:
            CreatorIdentityError: the extension is present but not ``{"attrs": {...}}`` JSON.
        """
        try:
            ext = self._cert.extensions.get_extension_for_oid(ATTRIBUTE_OID)
        except x509.ExtensionNotFound:
            return {}
        raw: Any = ext.value.value if isinstance(ext.value, x509.UnrecognizedExtension) else b""
        try:
            attrs = json.loads(raw.decode("utf-8")).get("attrs", {})
        except (UnicodeDecodeError, ValueError, AttributeError) as exc:
            raise CreatorIdentityError("attribute extension 1.2.3.4.5.6.7.8.1 is not valid JSON") from exc
        if not isinstance(attrs, dict):
            raise CreatorIdentityError('attribute extension must hold {"attrs": {...}}')
        return {str(k): str(v) for k, v in attrs.items()}

    def get_attribute(self, name: str) -> str | None:
        """Value of attribute ``name``, or None. Raises CreatorIdentityError (malformed extension)."""
        return self.attributes.get(name)

    def assert_attribute_value(self, name: str, value: str) -> None:
        """Fail the transaction unless attribute ``name`` equals ``value``.

        Raises:
            ChaincodeError: (status 403) the attribute is missing or has another value.
        """
        actual = self.get_attribute(name)
        if actual is None:
            raise ChaincodeError(f"attribute '{name}' was not found in the client certificate", status=403)
        if actual != value:
            raise ChaincodeError(f"attribute '{name}' does not have the required value", status=403)
