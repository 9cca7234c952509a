"""Errors raised by :mod:`qcchain_model` (each also inherits the matching built-in)."""

from __future__ import annotations


class ModelError(Exception):
    """Base of every error raised by :mod:`qcchain_model`."""


class InvalidCreditCode(ModelError, ValueError):
    """A unified social credit code (GB 32100-2015) is malformed or has a wrong check character."""
