"""Errors of the consortium model (each also inherits the matching built-in)."""

from __future__ import annotations

from dataclasses import dataclass


class NetworkError(Exception):
    """Base of every error raised by :mod:`qcchain_consortium` and :mod:`qcchain_network`."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a consortium description: the file, a JSON path in it, and what is wrong."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.message}"


class ConsortiumError(NetworkError, ValueError):
    """The consortium description is invalid; ``problems`` lists every problem found (all at once)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the consortium description"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))


class ConsortiumFileNotFound(ConsortiumError, FileNotFoundError):
    """The consortium file (or a policy file it references) does not exist."""


class PolicySyntaxError(NetworkError, ValueError):
    """A Fabric signature-policy string cannot be parsed (the message says where and why)."""
