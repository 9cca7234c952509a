"""Errors of the console; each also inherits the matching built-in."""

from __future__ import annotations


class ConsoleError(Exception):
    """Base of every console error."""


class ConfigError(ConsoleError, ValueError):
    """The console's settings, state directory or connection profile are unusable."""


class UserError(ConsoleError, ValueError):
    """A staff account operation was refused (unknown user, bad role, weak password...)."""


class AuthError(ConsoleError, PermissionError):
    """Login refused (wrong credentials, disabled or locked account) or a role may not do this."""


class CsrfError(ConsoleError, PermissionError):
    """A POST without the session's CSRF token."""


class IngestAdminError(ConsoleError, RuntimeError):
    """The ingestion server's admin API is unreachable or refused a call."""
