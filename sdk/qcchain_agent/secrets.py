"""Reading the agent's secrets (AppSecret, database password) from a file or an environment variable.

Entry points call these with ``os.environ``; the library never reads the environment itself. Values are
returned, never logged or put into an error message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from .errors import SecretError

__all__ = ["read_secret"]


def read_secret(what: str, env: str | None, file: Path | None, environ: Mapping[str, str]) -> str | None:
    """The secret named by ``env`` (a variable of ``environ``) or ``file`` (first line), or None if neither is set.

    Raises:
        SecretError: the variable is unset/empty or the file is unreadable/empty (``what`` names the setting).
    """
    if env is not None:
        value = environ.get(env, "")
        if not value:
            raise SecretError(f"{what}: environment variable {env} is not set")
        return value
    if file is not None:
        try:
            lines = Path(file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretError(f"{what}: cannot read {file} ({exc.__class__.__name__})") from None
        value = lines[0].strip() if lines else ""
        if not value:
            raise SecretError(f"{what}: {file} is empty")
        return value
    return None
