"""Errors raised by the CLI itself (bad options, missing files), and the one-line form of any error."""

from __future__ import annotations

import re

import click

_STATUS_PREFIX = re.compile(r"^(?:.*?chaincode response (\d{3}),?\s*)")
_STATUS_WORDS = {400: "invalid input", 401: "unauthorized", 403: "refused", 404: "not found", 409: "conflict",
                 410: "gone", 423: "locked"}


class CliError(click.ClickException):
    """A user-facing error with a one-line message; exit status 1."""

    def format_message(self) -> str:
        return self.message

    def show(self, file=None) -> None:  # type: ignore[override]
        click.echo(f"qcchain: error: {self.format_message()}", err=True, file=file)


def one_line(exc: BaseException) -> str:
    """What went wrong, in one line: for a Gateway error the chaincode's own answer (status and message,
    without the gRPC code, the transaction id and the per-peer repetition — ``-v`` shows those)."""
    from qcchain_gateway.errors import GatewayError

    if isinstance(exc, GatewayError):
        texts = [d.message for d in exc.details] + [exc.message]
        text = next((t for t in texts if "chaincode response" in t), texts[0] if texts else str(exc))
        match = _STATUS_PREFIX.match(text)
        if match:
            status = int(match[1])
            text = f"{_STATUS_WORDS.get(status, f'status {status}')}: {text[match.end():]}"
        return _hint(" ".join(text.split()))
    return _hint(" ".join(str(exc).split()))


def _hint(text: str) -> str:
    """Add what to do to the answers a newcomer meets first."""
    if "consortium member" in text and "bootstrap" not in text:
        return (f"{text} — the consortium is not bootstrapped on this channel yet: on a devnet run "
                "`qcchain devnet up --bootstrap`; on Fabric the regulator bootstraps it (docs/guide/regulator.md)")
    return text
