"""Errors raised by the CLI itself (bad options, missing files)."""

from __future__ import annotations

import click


class CliError(click.ClickException):
    """A user-facing error with a one-line message; exit status 1."""

    def format_message(self) -> str:
        return self.message

    def show(self, file=None) -> None:  # type: ignore[override]
        click.echo(f"qcchain: error: {self.format_message()}", err=True, file=file)
