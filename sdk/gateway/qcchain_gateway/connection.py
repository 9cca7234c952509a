"""gRPC channels to a Gateway peer (plain or TLS, with optional mutual TLS)."""

from __future__ import annotations

import logging

import grpc

logger = logging.getLogger(__name__)

# Fabric peers allow up to 100 MiB messages; keepalive like the official samples.
DEFAULT_OPTIONS: list[tuple[str, int | str]] = [
    ("grpc.max_send_message_length", 100 * 1024 * 1024),
    ("grpc.max_receive_message_length", 100 * 1024 * 1024),
]


def _channel_settings(
    target: str,
    tls_root_pem: bytes | None,
    server_name_override: str | None,
    client_cert_pem: bytes | None,
    client_key_pem: bytes | None,
) -> tuple[list[tuple[str, int | str]], grpc.ChannelCredentials | None]:
    """Channel options and TLS credentials (``None``: plaintext) shared by both channel kinds.

    Raises:
        ValueError: ``target`` is empty, or only one of client cert/key is given.
    """
    if not target:
        raise ValueError("gateway target address is empty")
    options = list(DEFAULT_OPTIONS)
    if tls_root_pem is None:
        return options, None
    if (client_cert_pem is None) != (client_key_pem is None):
        raise ValueError("mutual TLS needs both the client certificate and its private key")
    if server_name_override:
        options.append(("grpc.ssl_target_name_override", server_name_override))
        options.append(("grpc.default_authority", server_name_override))
    credentials = grpc.ssl_channel_credentials(
        root_certificates=tls_root_pem, private_key=client_key_pem, certificate_chain=client_cert_pem
    )
    return options, credentials


def new_channel(
    target: str,
    tls_root_pem: bytes | None = None,
    server_name_override: str | None = None,
    client_cert_pem: bytes | None = None,
    client_key_pem: bytes | None = None,
) -> grpc.Channel:
    """A gRPC channel to ``target`` (``host:port``); TLS when ``tls_root_pem`` is given.

    Raises:
        ValueError: ``target`` is empty, or only one of client cert/key is given.
    """
    options, credentials = _channel_settings(target, tls_root_pem, server_name_override, client_cert_pem,
                                             client_key_pem)
    if credentials is None:
        return grpc.insecure_channel(target, options=options)
    return grpc.secure_channel(target, credentials, options=options)


def new_aio_channel(
    target: str,
    tls_root_pem: bytes | None = None,
    server_name_override: str | None = None,
    client_cert_pem: bytes | None = None,
    client_key_pem: bytes | None = None,
) -> grpc.aio.Channel:
    """As :func:`new_channel`, for asyncio (:func:`qcchain_gateway.aio.connect`); create it inside the event loop.

    Raises:
        ValueError: ``target`` is empty, or only one of client cert/key is given.
    """
    options, credentials = _channel_settings(target, tls_root_pem, server_name_override, client_cert_pem,
                                             client_key_pem)
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=options)
    return grpc.aio.secure_channel(target, credentials, options=options)
